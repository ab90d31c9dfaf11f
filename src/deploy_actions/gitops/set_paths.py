"""`set: FILE:dotted.path=VALUE`: a value the user names, for shapes nothing else knows.

Values may use {tag}, {digest}, {image} (`ghcr.io/org/app:v1@sha256:…`, Docker Hub's defaults
left out) and {name} (`ghcr.io/org/app`); set only changes values that exist.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from deploy_actions.errors import InputError
from deploy_actions.gitops.image_ref import ImageRef
from deploy_actions.gitops.shapes.occurrence import Loc, Occurrence, parse_ref, set_value, short_name
from deploy_actions.gitops.yaml_splice import Change, YamlText

_SET = re.compile(r"(?P<file>[^:=\s][^:=]*):(?P<path>[^=]+)=(?P<value>.*)", re.DOTALL)
_SET_KEY = re.compile(r"((?:[^.\[\]\\]|\\.)+)((?:\[\d+\])*)")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
SET_PLACEHOLDERS = ("tag", "digest", "image", "name")


@dataclass(frozen=True)
class SetEntry:
    text: str
    relpath: str
    path: str
    keys: tuple[str | int, ...]
    template: str

    def render(self, target: ImageRef) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "tag" and target.tag:
                return target.tag
            if name == "digest":
                if not target.digest:
                    raise InputError("set", self.text, "{digest} only together with a digest (digest: pin)")
                return target.digest
            if name == "image":
                return target.short()
            if name == "name":
                return short_name(target)
            raise InputError("set", self.text, "placeholders among " + ", ".join(f"{{{p}}}" for p in SET_PLACEHOLDERS))

        return _PLACEHOLDER.sub(fill, self.template)

    def occurrence(self, loc: Loc, image: ImageRef) -> Occurrence:
        """The value at `loc` (this entry's path in a document) as a site of `image`."""
        text = loc.text or ""
        written = parse_ref(text)
        if written is not None and written.name == image.name:
            current = written
        else:
            tag, _, digest = text.partition("@")
            current = ImageRef(image.registry, image.repository, tag if _is_tag(tag) else None, digest or None)

        def plan(target: ImageRef, _yaml: YamlText) -> list[Change]:
            return set_value(loc, self.render(target))

        return Occurrence("set", current, loc, plan)


def parse_sets(entries: Sequence[str]) -> list[SetEntry]:
    expected = ("FILE:dotted.path=VALUE, e.g. apps/app/values.yaml:image.tag={tag} "
                "(keys with dots as a\\.b, list items as [0])")
    parsed = []
    for raw in entries:
        text = raw.strip()
        if not text:
            continue
        match = _SET.fullmatch(text)
        if match is None:
            raise InputError("set", raw, expected)
        keys: list[str | int] = []
        path = match.group("path").strip()
        for part in re.split(r"(?<!\\)\.", path):
            key = _SET_KEY.fullmatch(part)
            if key is None:
                raise InputError("set", raw, expected)
            keys.append(re.sub(r"\\(.)", r"\1", key.group(1)))
            keys += [int(n) for n in re.findall(r"\[(\d+)\]", key.group(2))]
        entry = SetEntry(text, match.group("file").strip(), path, tuple(keys), match.group("value").strip())
        for placeholder in _PLACEHOLDER.findall(entry.template):
            if placeholder not in SET_PLACEHOLDERS:
                raise InputError("set", raw, "placeholders among " + ", ".join(f"{{{p}}}" for p in SET_PLACEHOLDERS))
        parsed.append(entry)
    return parsed


def _is_tag(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", text))
