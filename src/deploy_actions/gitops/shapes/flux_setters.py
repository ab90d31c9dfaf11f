"""Flux's image policy setters: a value followed on its line by a marker comment,
`# {"$imagepolicy": "ns:name"}` for the whole image, or `"ns:name:tag"`, `":name"`, `":digest"`
for a part of it. With a policy only these fields change, as Flux does it: unmarked references
are left alone. Found from comments, not structure, so this shape has its own entry point."""

from __future__ import annotations

import re
from collections.abc import Iterator

from deploy_actions.errors import FileError, InputError
from deploy_actions.gitops.image_ref import ImageRef
from deploy_actions.gitops.shapes.occurrence import (
    Finding,
    Loc,
    Occurrence,
    parse_ref,
    set_value,
    short_name,
    split_ref,
    suffix,
)
from deploy_actions.gitops.yaml_splice import Change, YamlText

MARKER = re.compile(r'#\s*\{\s*"\$imagepolicy"\s*:\s*"([^"\n]*)"\s*\}')
_POLICY = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def check_policy(policy: str | None) -> str | None:
    if policy is not None and not _POLICY.fullmatch(policy):
        raise InputError("policy", policy, "a Flux image policy as namespace:name (flux-system:app)")
    return policy


def marks(text: str, policy: str) -> bool:
    """Whether `text` has a marker for `policy` (a cheap test before parsing)."""
    return any(setter_field(m.group(1), policy) is not None for m in MARKER.finditer(text))


def setter_field(marker: str, policy: str) -> str | None:
    """'' for the whole image, 'tag', 'name' or 'digest' when `marker` is for `policy`."""
    if marker == policy:
        return ""
    head, _, tail = marker.rpartition(":")
    return tail if head == policy and tail in ("tag", "name", "digest") else None


def occurrences(yaml: YamlText, policy: str, image: ImageRef, findings: list[Finding]) -> list[Occurrence]:
    """The marked values of a parsed file (a marker with no value before it is a warning)."""
    text = yaml.text
    values_by_line: dict[int, list[Loc]] = {}
    for doc_index, doc in enumerate(yaml.docs):
        for loc in _value_scalars(Loc(doc, (doc_index,))):
            values_by_line.setdefault(int(loc.node.end_mark.line), []).append(loc)
    result = []
    line, counted = 0, 0
    for match in MARKER.finditer(text):
        setter = setter_field(match.group(1), policy)
        if setter is None:
            continue
        line += text.count("\n", counted, match.start())  # counted on from the last marker: linear
        counted = match.start()
        on_line = [loc for loc in values_by_line.get(line, []) if loc.node.end_mark.index <= match.start()]
        if not on_line:
            findings.append(Finding(yaml.relpath, line + 1, "warning",
                                    f"the $imagepolicy marker for {policy} has no value before it on its line; "
                                    "skipped", "setter"))
            continue
        result.append(_occurrence(max(on_line, key=lambda loc: loc.node.end_mark.index), setter, image,
                                  yaml.relpath))
    return result


def _value_scalars(doc: Loc) -> Iterator[Loc]:
    """The scalars of a document that are values (mapping values and sequence items)."""
    seen: set[int] = set()
    stack = [doc]
    while stack:
        loc = stack.pop()
        if loc.node.id == "scalar":
            yield loc
        elif id(loc.node) not in seen:
            seen.add(id(loc.node))
            stack.extend(loc.items() if loc.node.id == "sequence" else [child for _, child in loc.pairs()])


def _occurrence(loc: Loc, setter: str, image: ImageRef, relpath: str) -> Occurrence:
    text = loc.text or ""
    written = parse_ref(text)
    same = written is not None and written.name == image.name
    if setter == "":
        current = written or ImageRef(image.registry, image.repository)
    elif setter == "name":
        current = ImageRef(written.registry, written.repository) if written else ImageRef(image.registry,
                                                                                          image.repository)
    elif setter == "tag":
        current = ImageRef(image.registry, image.repository, text or None)
    else:
        current = ImageRef(image.registry, image.repository, None, text or None)

    def plan(target: ImageRef, _yaml: YamlText) -> list[Change]:
        name = split_ref(text)[0] if same else short_name(target)
        if setter == "":
            return set_value(loc, name + suffix(target))
        if setter == "name":
            return set_value(loc, name)
        if setter == "tag":
            assert target.tag is not None
            return set_value(loc, target.tag)
        if not target.digest:
            raise FileError(f"has a digest setter for the policy, but the new image {target.short()} has no "
                            "digest; pin it by digest (digest: pin)", file=relpath, line=loc.line)
        return set_value(loc, target.digest)

    return Occurrence("flux-setter", current, loc, plan)
