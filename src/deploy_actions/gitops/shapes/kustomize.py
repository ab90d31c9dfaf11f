"""kustomize `images:` entries (`name`, `newName`, `newTag`, `digest`): in kustomization files
and in Flux Kustomizations' `spec.images`; and the entry kustomize-add appends.

In kustomize the old `digest:` line is removed when the new image has no digest (it would win
over the tag)."""

from __future__ import annotations

from collections.abc import Iterator

from deploy_actions.errors import FileError
from deploy_actions.gitops.classify import kind_of
from deploy_actions.gitops.image_ref import ImageRef
from deploy_actions.gitops.shapes.occurrence import Document, Loc, Occurrence, parse_ref, set_value
from deploy_actions.gitops.yaml_splice import AddItem, AddPairs, AddSequence, Change, DropPair, Pairs, YamlText


def occurrences(doc: Document) -> Iterator[Occurrence]:
    api, kind = kind_of(doc.root)
    if doc.role == "kustomization" or (kind in ("Kustomization", "Component")
                                       and api.startswith("kustomize.config.k8s.io")):
        yield from images(doc.root.get("images"), "kustomize")
    elif kind == "Kustomization" and api.startswith("kustomize.toolkit.fluxcd.io"):
        yield from images(doc.root.dig("spec", "images"), "kustomize")


def images(listed: Loc | None, kind: str) -> Iterator[Occurrence]:
    for entry in listed.items() if listed is not None else []:
        found = _entry(entry, kind)
        if found is not None:
            yield found


def _entry(entry: Loc, kind: str) -> Occurrence | None:
    name, new_name = entry.get("name"), entry.get("newName")
    effective = (new_name.text if new_name is not None else None) or (name.text if name is not None else None)
    ref = parse_ref(effective)
    new_tag, digest = entry.get("newTag"), entry.get("digest")
    if ref is None or any(loc is not None and loc.text is None for loc in (new_tag, digest)):
        return None
    tag_text = new_tag.text if new_tag is not None else None
    digest_text = digest.text if digest is not None else None
    current = ImageRef(ref.registry, ref.repository, tag_text or ref.tag, digest_text or ref.digest)

    def plan(target: ImageRef, yaml: YamlText) -> list[Change]:
        assert target.tag is not None
        changes: list[Change] = []
        added: list[tuple[str, str]] = []
        if new_tag is not None:
            changes += set_value(new_tag, target.tag)
        else:
            added.append(("newTag", target.tag))
        if target.digest:
            if digest is not None:
                changes += set_value(digest, target.digest)
            else:
                added.append(("digest", target.digest))
        elif digest is not None and digest_text:  # no longer pinned: the old digest would win
            index = digest.pair_index()
            if yaml.can_drop(entry.node, index):
                changes.append(DropPair(entry.node, entry.path, index))
            else:
                changes += set_value(digest, "")
        if added:
            changes.append(AddPairs(entry.node, entry.path, tuple(added)))
        return changes

    at = new_tag or digest or new_name or name
    assert at is not None
    return Occurrence(kind, current, at, plan, defaulted=new_tag is None and digest is None)


def add_entry(yaml: YamlText, target: ImageRef, name: str) -> Change:
    """The change that appends `{name, newTag[, digest]}` to a kustomization's `images:`
    (created when missing), in the file's style."""
    assert target.tag is not None
    docs = yaml.in_file_order()
    if not docs or docs[0][1].id != "mapping" or not docs[0][1].value:
        raise FileError("is not a kustomization (a YAML mapping); cannot add the image (kustomize-add)",
                        file=yaml.relpath)
    doc = Loc(docs[0][1], (docs[0][0],))
    pairs: Pairs = (("name", name), ("newTag", target.tag))
    if target.digest:
        pairs += (("digest", target.digest),)
    listed = doc.get("images")
    if listed is None:
        return AddSequence(doc.node, doc.path, "images", (pairs,))
    if listed.node.id != "sequence" or (not listed.node.value and not listed.node.flow_style):
        raise FileError("has an images: that is not a list; cannot add the image (kustomize-add)",
                        file=yaml.relpath, line=yaml.line(listed.node))
    return AddItem(listed.node, listed.path, pairs)
