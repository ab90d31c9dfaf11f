"""Without a router, traffic follows pods: the stable and canary workloads' `spec.replicas`. Any
object with a pod template (`spec.template`) and replicas is a workload (Deployments,
StatefulSets, Argo Rollouts, OpenKruise CloneSets...); each is one backend, and gitops.routing
puts the stable's and the canary's together into one split."""

from __future__ import annotations

from collections.abc import Iterator

from deploy_actions.gitops.classify import is_object, kind_of
from deploy_actions.gitops.shapes.occurrence import Document
from deploy_actions.gitops.shapes.traffic import Backend, Split, object_name, whole_number


def splits(doc: Document) -> Iterator[Split]:
    if doc.role != "config" or not is_object(doc.root):
        return
    spec = doc.root.get("spec")
    if spec is None or spec.get("template") is None:
        return
    name = object_name(doc.root)
    replicas = spec.get("replicas")
    if not name:
        return
    _, kind = kind_of(doc.root)
    if replicas is None:
        backend = Backend((name,), 1, None, default_note="has no replicas (Kubernetes counts it as 1)")
    else:
        value = whole_number(replicas)
        if value is None:
            return
        backend = Backend((name,), value, replicas)
    yield Split("replicas", f"{kind}/{name}", doc.root.line, (backend,))
