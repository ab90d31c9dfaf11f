"""Release notes: the changes of a release, grouped the way readers scan them.

Which types go under which heading, in which order, and which are hidden is a `Sections`
table (release-please's `changelog-sections`): one `type: Heading` line per type, in the
order the headings appear; `type: hidden` leaves a type out; `*: Heading` (or `*: hidden`)
names the place of every other type. Breaking changes always come first, hidden or not (and
appear in their type's section too, as release-please writes them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from deploy_actions.errors import InputError
from deploy_actions.release.commits import Change

HIDDEN = "hidden"
OTHERS = "*"
_LINE = re.compile(r"^\s*(?P<type>\*|[A-Za-z][A-Za-z0-9_-]*)\s*:\s*(?P<title>\S.*?)\s*$")


@dataclass(frozen=True)
class Sections:
    """Headings in order, each with its types; `others` is where unlisted types go (None: hidden)."""

    headings: tuple[tuple[str, tuple[str, ...]], ...]
    others: str | None = "Other Changes"

    @property
    def shown_types(self) -> frozenset[str]:
        return frozenset(t for _, types in self.headings for t in types)

    def heading_of(self, change_type: str) -> str | None:
        for title, types in self.headings:
            if change_type in types:
                return title
        return self.others


DEFAULT_SECTIONS = Sections((
    ("Features", ("feat",)),
    ("Fixes", ("fix",)),
    ("Performance", ("perf",)),
    ("Reverts", ("revert",)),
))


def parse_sections(lines: Sequence[str], input_name: str = "changelog-sections") -> Sections:
    """`type: Heading` lines → Sections; empty → the defaults. The defaults' types that the
    lines do not mention keep their place after the listed ones (so `docs: Documentation`
    alone adds a section and hides nothing)."""
    if not lines:
        return DEFAULT_SECTIONS
    order: list[str] = []
    types: dict[str, list[str]] = {}
    listed: set[str] = set()
    others: str | None = DEFAULT_SECTIONS.others
    for line in lines:
        match = _LINE.match(line)
        if not match:
            raise InputError(input_name, line, "lines of `type: Heading` (or `type: hidden`, `*: Heading`)")
        kind, title = match["type"].lower(), match["title"]
        if kind in listed:
            raise InputError(input_name, line, f"each type once (`{kind}` is listed twice)")
        listed.add(kind)
        if kind == OTHERS:
            others = None if title.lower() == HIDDEN else title
            continue
        if title.lower() == HIDDEN:
            continue
        if title not in types:
            order.append(title)
            types[title] = []
        types[title].append(kind)
    for title, defaults in DEFAULT_SECTIONS.headings:
        kept = [t for t in defaults if t not in listed]
        if kept:
            if title not in types:
                order.append(title)
                types[title] = []
            types[title].extend(kept)
    return Sections(tuple((title, tuple(types[title])) for title in order), others)


def _line(change: Change) -> str:
    scope = f"**{change.scope}:** " if change.scope else ""
    sha = f" ({change.sha[:7]})" if change.sha else ""
    return f"- {scope}{change.subject}{sha}"


def render_notes(changes: Sequence[Change], sections: Sections = DEFAULT_SECTIONS) -> str:
    """Markdown: Breaking Changes, then the sections in their order, then the other types."""
    blocks: list[str] = []
    breaking = [c for c in changes if c.breaking]
    if breaking:
        lines = []
        for change in breaking:
            lines.append(_line(change))
            for note in change.breaking_note.splitlines():
                if note.strip():
                    lines.append(f"  {note.strip()}")
        blocks.append("### Breaking Changes\n\n" + "\n".join(lines))
    grouped: dict[str, list[Change]] = {}
    listed = sections.shown_types
    for change in changes:
        if change.breaking and change.type not in listed:
            continue  # under Breaking Changes only; a listed type is in its own section too
        title = sections.heading_of(change.type)
        if title is not None:
            grouped.setdefault(title, []).append(change)
    titles = [title for title, _ in sections.headings]
    if sections.others is not None and sections.others not in titles:
        titles.append(sections.others)
    for title in titles:
        picked = grouped.get(title)
        if picked:
            blocks.append(f"### {title}\n\n" + "\n".join(_line(c) for c in picked))
    return "\n\n".join(blocks)
