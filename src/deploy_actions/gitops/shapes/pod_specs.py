"""Containers in pod specs, found by structure: in any Kubernetes object, at any depth, a
`containers`, `initContainers` or `ephemeralContainers` list of `{name, image}` maps (Deployments,
CronJobs, Argo Rollouts Experiments, KEDA ScaledJobs, OpenShift DeploymentConfigs, operators'
pod templates...)."""

from __future__ import annotations

from collections.abc import Iterator

from deploy_actions.gitops.classify import is_object
from deploy_actions.gitops.shapes.occurrence import Document, Loc, Occurrence, ref_occurrence

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def occurrences(doc: Document) -> Iterator[Occurrence]:
    if doc.role != "config" or not is_object(doc.root):
        return
    for container in containers(doc.root):
        image = container.get("image")
        found = ref_occurrence("container", image) if image is not None else None
        if found is not None:
            yield found


def containers(root: Loc) -> Iterator[Loc]:
    """Every container map (a `{name, image}` item of a container list) under `root`."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        loc = stack.pop()
        if loc.node.id == "scalar" or id(loc.node) in seen:
            continue
        seen.add(id(loc.node))
        if loc.node.id == "sequence":
            stack.extend(reversed(loc.items()))
            continue
        for key, child in loc.pairs():
            if key in CONTAINER_LISTS and child.node.id == "sequence":
                items = child.items()
                if items and all(_is_container(item) for item in items):
                    yield from items
                    continue
            stack.append(child)


def _is_container(item: Loc) -> bool:  # Kubernetes requires a name; examples often leave it out
    image = item.get("image")
    return image is not None and image.node.id == "scalar"
