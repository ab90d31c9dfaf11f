"""Images that custom resources hold in their `spec` outside pod specs: an `image` string
(`spec.image: quay.io/org/app:v1`), or an untagged `image` with a `version` or `tag` beside it
(`{image: quay.io/prometheus/prometheus, version: v2.45.0}`), at any depth under `spec`.

An untagged `image` with nothing beside it names a repository, not a pin (Flux's
ImageRepository `spec.image`), so it is left alone."""

from __future__ import annotations

from collections.abc import Iterator

from deploy_actions.gitops.classify import is_object
from deploy_actions.gitops.shapes.occurrence import (
    Document,
    Loc,
    Occurrence,
    parse_ref,
    ref_occurrence,
    split_occurrence,
)
from deploy_actions.gitops.shapes.pod_specs import CONTAINER_LISTS
from deploy_actions.gitops.yaml_splice import AddPairs

# Subtrees other shapes own: pod specs' containers, and Helm values inside Flux and Argo CD objects.
_NOT_HERE = frozenset({*CONTAINER_LISTS, "values", "valuesObject", "helm", "kustomize", "images"})
TAG_KEYS = ("version", "tag")


def occurrences(doc: Document) -> Iterator[Occurrence]:
    if doc.role != "config" or not is_object(doc.root):
        return
    spec = doc.root.get("spec")
    if spec is None:
        return
    seen: set[int] = set()
    stack = [spec]
    while stack:
        loc = stack.pop()
        if loc.node.id == "scalar" or id(loc.node) in seen:
            continue
        seen.add(id(loc.node))
        if loc.node.id == "sequence":
            stack.extend(reversed(loc.items()))
            continue
        image = loc.get("image")
        if image is not None and image.node.id == "scalar":
            found = _image(loc, image)
            if found is not None:
                yield found
        stack.extend(reversed([child for key, child in loc.pairs() if key not in _NOT_HERE and key != "image"]))


def _image(block: Loc, image: Loc) -> Occurrence | None:
    ref = parse_ref(image.text)
    if ref is None:
        return None
    tag = next((t for t in (block.get(k) for k in TAG_KEYS) if t is not None and t.node.id == "scalar"), None)
    if ref.tag or ref.digest:
        return ref_occurrence("custom-resource", image)
    if tag is None:
        return None
    return split_occurrence("custom-resource", ref, image, tag, None,
                            lambda new_tag: AddPairs(block.node, block.path, (("version", new_tag),)))
