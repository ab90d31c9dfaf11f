"""The shapes in which GitOps repositories pin images, one module per family, behind one interface.

A shape is a module with

    def occurrences(doc: Document) -> Iterator[Occurrence]

that looks at one parsed document (`doc.root`, a `Loc`; `doc.yaml`, its file as read; `doc.role`,
what the file is by name: see gitops.classify) and yields every image it pins, whatever the image.
YAML held in a string (Argo CD's `helm.values: |`) is searched with `occurrence.embedded`. Each `Occurrence`
carries what it pins now (`current`), the value that changes (`at`, for its file and line) and
`plan(target, yaml) -> list[Change]`: the byte-exact changes (gitops.yaml_splice) that pin
`target` there, none when it already does. A shape never reads files, parses or writes: the
orchestrator (gitops.manifests) picks the files and documents, keeps the occurrences of the
image being bumped, applies the plans and verifies them by parsing again. Shapes are asked in
the order of SHAPES, and a value claimed by one shape is not offered to the next.

To add a shape, write a module with `occurrences` and add it to SHAPES; nothing else changes.
Decide by structure where structure can decide (any mapping holding a container list is a pod
spec), and by kind only where it cannot.

Traffic-routing resources (weights and slot selectors, not images) are shapes of a second kind,
with `splits(doc)` instead (see gitops.shapes.traffic), asked by gitops.routing.

Flux's `$imagepolicy` setters are the one family found from comments rather than structure;
gitops.shapes.flux_setters has its own entry point for that reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from deploy_actions.gitops.shapes import (
    argocd,
    chart_annotations,
    custom_resources,
    helm_values,
    kustomize,
    pod_specs,
)
from deploy_actions.gitops.shapes.occurrence import Document, Loc, Occurrence

SHAPES: tuple[Callable[[Document], Iterator[Occurrence]], ...] = (
    pod_specs.occurrences,
    kustomize.occurrences,
    argocd.occurrences,
    helm_values.occurrences,
    chart_annotations.occurrences,
    custom_resources.occurrences,
)


def document_occurrences(doc: Document) -> Iterator[Occurrence]:
    """Every image pinned in one document, whatever its repository, each value once. A `List`
    object's items are documents of their own."""
    claimed: set[tuple[int, tuple[int, ...]]] = set()  # a node and its path (an alias is a second path)
    stack = [doc]
    while stack:
        current = stack.pop()
        kind = current.root.get("kind")
        items = current.root.get("items")
        if kind is not None and kind.text == "List" and items is not None:
            stack.extend(Document(item, current.yaml, current.role) for item in reversed(items.items()))
            continue
        for shape in SHAPES:
            for found in shape(current):
                if (id(found.at.node), found.at.path) not in claimed:
                    claimed.add((id(found.at.node), found.at.path))
                    yield found


__all__ = ["SHAPES", "Document", "Loc", "Occurrence", "document_occurrences"]
