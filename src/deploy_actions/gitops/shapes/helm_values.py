"""Helm values, found by shape wherever they sit: image maps (a repository-like key and a
tag-like key, optionally a `registry` and a `digest`) and `image:` strings, at any depth of a
file that is not a Kubernetes object, and of Flux HelmReleases' `spec.values`.

The spellings of an image map, from real charts: the repository as `repository`, `repo`,
`image` or `name`; the tag as `tag` or `version`. A map with a `repository` (or `repo`) and no
tag is an image whose tag the chart fills in (its appVersion).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from deploy_actions.gitops.classify import is_object, kind_of
from deploy_actions.gitops.shapes.occurrence import (
    Document,
    Loc,
    Occurrence,
    joined_ref,
    ref_occurrence,
    split_occurrence,
)
from deploy_actions.gitops.yaml_splice import AddPairs, Change

REPOSITORY_KEYS = ("repository", "repo", "image", "name")  # in order of preference
TAG_KEYS = ("tag", "version")


def occurrences(doc: Document) -> Iterator[Occurrence]:
    if doc.role != "config":
        return
    if not is_object(doc.root):
        yield from values(doc.root, "helm-values")
    elif kind_of(doc.root)[1] == "HelmRelease":
        yield from values(doc.root.dig("spec", "values"), "helmrelease")


def values(root: Loc | None, kind: str) -> Iterator[Occurrence]:
    """Image maps and `image:` strings at any depth under `root`."""
    if root is None:
        return
    seen: set[int] = set()
    stack = [root]
    while stack:
        loc = stack.pop()
        if id(loc.node) in seen:  # an alias of a block already seen
            continue
        seen.add(id(loc.node))
        if loc.node.id == "sequence":
            stack.extend(reversed(loc.items()))
            continue
        if loc.node.id != "mapping":
            continue
        pairs = loc.pairs()
        block = image_map({key: child for key, child in pairs if key is not None}, kind, _add_tag(loc))
        if block is not None:
            yield block
        children = []
        for key, child in pairs:
            if key == "image" and child.node.id == "scalar":
                found = ref_occurrence(kind, child) if block is None else None
                if found is not None:
                    yield found
            elif child.node.id != "scalar":
                children.append(child)
        stack.extend(reversed(children))


def _add_tag(block: Loc) -> Callable[[str], Change]:
    return lambda new_tag: AddPairs(block.node, block.path, (("tag", new_tag),))


def image_map(fields: Mapping[str, Loc], kind: str, add_tag: Callable[[str], Change]) -> Occurrence | None:
    """The image of a map of `fields` shaped like an image (Helm values, Argo CD parameters)."""
    tag = next((fields[k] for k in TAG_KEYS if k in fields), None)
    repository_key = next((k for k in REPOSITORY_KEYS if k in fields and fields[k].node.id == "scalar"), None)
    if repository_key is None or (tag is None and repository_key not in ("repository", "repo")):
        return None
    repository, registry, digest = fields[repository_key], fields.get("registry"), fields.get("digest")
    if any(loc is not None and loc.text is None for loc in (tag, digest, registry)):
        return None
    ref = joined_ref(registry, repository)
    if ref is None:
        return None
    if ref.tag or ref.digest:  # the repository holds a whole reference: edit that, if it is alone
        return ref_occurrence(kind, repository) if tag is None and digest is None and registry is None else None
    return split_occurrence(kind, ref, repository, tag, digest, add_tag)
