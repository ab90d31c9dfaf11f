"""SMI TrafficSplits: `spec.backends[].{service, weight}` (split.smi-spec.io v1alpha2 and later,
whose weights are integers; v1alpha1's quantities such as `500m` are not read)."""

from __future__ import annotations

from collections.abc import Iterator

from deploy_actions.gitops.classify import is_object, kind_of
from deploy_actions.gitops.shapes.occurrence import Document
from deploy_actions.gitops.shapes.traffic import Backend, Split, object_name, whole_number

GROUP = "split.smi-spec.io/"


def splits(doc: Document) -> Iterator[Split]:
    if doc.role != "config" or not is_object(doc.root):
        return
    api, kind = kind_of(doc.root)
    if not api.startswith(GROUP) or kind != "TrafficSplit":
        return
    backends = []
    listed = doc.root.dig("spec", "backends")
    for item in listed.items() if listed is not None else []:
        service, weight = item.get("service"), item.get("weight")
        value = whole_number(weight)
        if service is not None and service.text and value is not None:
            backends.append(Backend((service.text,), value, weight))
    if backends and listed is not None:
        yield Split("smi", f"TrafficSplit/{object_name(doc.root)}", listed.line, tuple(backends))
