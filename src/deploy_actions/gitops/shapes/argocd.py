"""Argo CD: an Application's (or ApplicationSet template's) sources, and argocd-image-updater's
write-back files (`.argocd-source-<app>.yaml`, which hold one source's `helm:` or `kustomize:`).

In a source: `helm.parameters` (`{name: image.repository, value: …}` and its `.tag` sibling, any
image-map spelling of gitops.shapes.helm_values, or one `{name: image, value: repo:tag}`),
`helm.valuesObject`, `helm.values` written as a string (edited inside the string), and
`kustomize.images` (`name=newName:tag` strings)."""

from __future__ import annotations

from collections.abc import Iterator

from deploy_actions.gitops.classify import kind_of
from deploy_actions.gitops.shapes import helm_values
from deploy_actions.gitops.shapes.occurrence import (
    Document,
    Loc,
    Occurrence,
    embedded,
    ref_occurrence,
    split_ref,
)
from deploy_actions.gitops.yaml_splice import AddItem, Change


def occurrences(doc: Document) -> Iterator[Occurrence]:
    if doc.role == "argocd-source":
        yield from _source(doc, doc.root)
        return
    if doc.role != "config":
        return
    api, kind = kind_of(doc.root)
    if kind not in ("Application", "ApplicationSet") or not api.startswith("argoproj.io"):
        return
    spec = doc.root.dig("spec", "template", "spec") if kind == "ApplicationSet" else doc.root.get("spec")
    if spec is None:
        return
    sources = spec.get("sources")
    for source in [spec.get("source"), *(sources.items() if sources is not None else [])]:
        if source is not None and source.node.id == "mapping":
            yield from _source(doc, source)


def _source(doc: Document, source: Loc) -> Iterator[Occurrence]:
    helm = source.get("helm")
    if helm is not None:
        yield from _parameters(helm.get("parameters"))
        yield from helm_values.values(helm.get("valuesObject"), "argocd-values")
        yield from embedded(doc, helm.get("values"), lambda root: helm_values.values(root, "argocd-values"))
    images = source.dig("kustomize", "images")
    for item in images.items() if images is not None else []:
        text = item.text or ""
        found = ref_occurrence("argocd-kustomize", item, text.partition("=")[0] + "=" if "=" in text else "")
        if found is not None and not (split_ref(text)[1] or "@" in text):  # `name=newName` renames only
            found = Occurrence(found.kind, found.current, found.at, found.plan, defaulted=True)
        if found is not None:
            yield found


def _parameters(parameters: Loc | None) -> Iterator[Occurrence]:
    """`helm.parameters`, grouped by the prefix of their names (`image.` of `image.tag`)."""
    if parameters is None:
        return
    groups: dict[str, dict[str, Loc]] = {}
    for item in parameters.items():
        name_loc, value_loc = item.get("name"), item.get("value")
        if name_loc is not None and name_loc.text and value_loc is not None and value_loc.node.id == "scalar":
            prefix, _, leaf = name_loc.text.rpartition(".")
            groups.setdefault(prefix + "." if prefix else "", {}).setdefault(leaf, value_loc)
    kind = "argocd-helm-parameter"
    for prefix, fields in groups.items():
        def add_tag(new_tag: str, prefix: str = prefix) -> Change:
            return AddItem(parameters.node, parameters.path, (("name", prefix + "tag"), ("value", new_tag)))

        found = helm_values.image_map(fields, kind, add_tag)
        if found is None and "image" in fields:
            found = ref_occurrence(kind, fields["image"])
        if found is not None:
            yield found
