"""Chart.yaml's image annotations (Bitnami's `images`, Artifact Hub's `artifacthub.io/images`):
a YAML list of `{name, image}` written as a string, kept in step with the values it describes."""

from __future__ import annotations

from collections.abc import Iterator

from deploy_actions.gitops.shapes.occurrence import Document, Loc, Occurrence, embedded, ref_occurrence

ANNOTATIONS = ("images", "artifacthub.io/images")


def occurrences(doc: Document) -> Iterator[Occurrence]:
    if doc.role != "chart":
        return
    annotations = doc.root.get("annotations")
    for key in ANNOTATIONS:
        yield from embedded(doc, annotations.get(key) if annotations is not None else None, _images)


def _images(root: Loc) -> Iterator[Occurrence]:
    for item in root.items():
        image = item.get("image")
        found = ref_occurrence("chart-annotation", image) if image is not None else None
        if found is not None:
            yield found
