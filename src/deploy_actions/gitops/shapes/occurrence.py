"""What a shape finds: a node in a parsed document that pins an image, and how to pin another.

Shapes build `Occurrence`s out of `Loc`s (a parser node and where it sits) with the few helpers
here that every shape needs: reading an image reference written as one string, or split into a
repository and a tag as Helm values and Argo CD parameters write it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from deploy_actions.gitops.classify import FileRole
from deploy_actions.gitops.image_ref import ImageRef, ImageRefError
from deploy_actions.gitops.loc import Loc as Loc  # what shapes walk, with the rest of their vocabulary
from deploy_actions.gitops.yaml_splice import Change, EditEmbedded, SetValue, YamlSyntaxError, YamlText


@dataclass(frozen=True, order=True)
class ImageSite:
    """One place in one file that pins the image."""

    relpath: str  # posix, relative to the repository root
    line: int  # 1-based: the line of the value that changes (of an alias, its anchor's line)
    kind: str  # the shape's name, see SITE_KINDS
    current: ImageRef  # what it references now (tag/digest as written; tag None when untagged)
    value: str = ""  # the text of the value that changes, as it reads now


SITE_KINDS = ("container", "custom-resource", "kustomize", "helm-values", "helmrelease", "argocd-helm-parameter",
              "argocd-values", "argocd-kustomize", "chart-annotation", "flux-setter", "set")


@dataclass(frozen=True)
class Finding:
    """A warning or error tied to a file and line (lint findings, skipped files)."""

    relpath: str
    line: int | None
    level: Literal["error", "warning", "notice"]
    message: str
    rule: str = ""


Plan = Callable[[ImageRef, YamlText], list[Change]]


@dataclass(frozen=True)
class Occurrence:
    """An image pinned somewhere: what it is now, and how to pin another tag there."""

    kind: str
    current: ImageRef
    at: Loc  # the value that changes (its line is the site's)
    plan: Plan
    defaulted: bool = False  # the tag is left to something else (a chart's appVersion, a rename)

    def site(self, relpath: str) -> ImageSite:
        return ImageSite(relpath, self.at.line, self.kind, self.current, self.at.text or "")


def parse_ref(text: str | None) -> ImageRef | None:
    if not text or "{{" in text or "$" in text:
        return None
    try:
        return ImageRef.parse(text)
    except ImageRefError:
        return None


def split_ref(text: str) -> tuple[str, str | None, str | None]:
    """(name as written, tag, digest) of an image reference's text."""
    rest, at, digest_text = text.partition("@")
    digest = digest_text if at else None
    colon, slash = rest.rfind(":"), rest.rfind("/")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest
    return rest, None, digest


def short_name(ref: ImageRef) -> str:
    """How people write the repository: `nginx`, `ghcr.io/org/app`."""
    return ImageRef(ref.registry, ref.repository).short()


def suffix(target: ImageRef) -> str:
    """`:tag` or `:tag@digest`."""
    return f":{target.tag}" + (f"@{target.digest}" if target.digest else "")


def set_value(loc: Loc, value: str) -> list[Change]:
    """The change that makes the scalar at `loc` read `value` (none when it already does)."""
    return [] if loc.text == value else [SetValue(loc.node, loc.path, value, loc.key)]


def ref_occurrence(kind: str, loc: Loc, prefix: str = "") -> Occurrence | None:
    """An image reference written as one string (`ghcr.io/org/app:v1`; `prefix` is kept, as
    the `name=` of an Argo CD kustomize image)."""
    text = loc.text
    ref = parse_ref(text[len(prefix):] if text else None)
    if ref is None or text is None:
        return None
    written = split_ref(text[len(prefix):])[0]

    def plan(target: ImageRef, _yaml: YamlText) -> list[Change]:
        return set_value(loc, prefix + written + suffix(target))

    return Occurrence(kind, ref, loc, plan)


def joined_ref(registry: Loc | None, repository: Loc) -> ImageRef | None:
    """`registry` + `repository` (Helm's split form) as one reference."""
    reg_text = registry.text if registry is not None else None
    return parse_ref(f"{reg_text}/{repository.text}" if reg_text else repository.text)


def split_occurrence(kind: str, ref: ImageRef, repository: Loc, tag: Loc | None, digest: Loc | None,
                     add_tag: Callable[[str], Change]) -> Occurrence | None:
    """An image whose tag (and digest) sit apart from its repository, as in Helm values. A digest
    goes into the `digest` value when there is one, else into the tag as `tag@sha256:…` (charts
    render `repository:tag`, so any chart then pulls by digest)."""
    tag_text = tag.text if tag is not None else None
    if tag_text and ("{{" in tag_text or "$" in tag_text):
        return None  # a template: the chart fills it in
    written_tag, _, tag_digest = (tag_text or "").partition("@")
    digest_text = (digest.text if digest is not None else None) or tag_digest or None
    current = ImageRef(ref.registry, ref.repository, written_tag or None, digest_text)

    def plan(target: ImageRef, _yaml: YamlText) -> list[Change]:
        assert target.tag is not None
        changes: list[Change] = []
        if digest is not None:
            new_tag = target.tag
            changes += set_value(digest, target.digest or "")
        else:
            new_tag = target.tag + (f"@{target.digest}" if target.digest else "")
        return changes + (set_value(tag, new_tag) if tag is not None else [add_tag(new_tag)])

    return Occurrence(kind, current, tag or repository, plan, defaulted=not tag_text)


@dataclass(frozen=True)
class Document:
    """One parsed document, the file it is in, and what that file is (see gitops.classify)."""

    root: Loc
    yaml: YamlText
    role: FileRole


def embedded(doc: Document, block: Loc | None, find: Callable[[Loc], Iterator[Occurrence]]) -> Iterator[Occurrence]:
    """The occurrences `find` sees in the YAML held by the string `block` (a literal block
    scalar: Argo CD's `helm.values: |`), each planned as an edit inside the string, byte for byte,
    verified at both levels. A string that is not YAML holds none."""
    if block is None or block.node.id != "scalar" or block.node.style != "|":
        return
    try:
        inner = doc.yaml.embedded(block.node)
    except YamlSyntaxError:
        return
    for index, node in enumerate(inner.docs):
        for found in find(Loc(node, (index,))):
            yield _inside(found, block, inner)


def _inside(found: Occurrence, block: Loc, inner: YamlText) -> Occurrence:
    def plan(target: ImageRef, _yaml: YamlText) -> list[Change]:
        changes = found.plan(target, inner)
        return [EditEmbedded(block.node, block.path, inner, tuple(changes))] if changes else []

    return Occurrence(found.kind, found.current, found.at, plan, found.defaulted)
