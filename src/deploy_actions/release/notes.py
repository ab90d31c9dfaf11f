"""Release notes: the changes of a release, grouped the way readers scan them."""

from __future__ import annotations

from collections.abc import Sequence

from deploy_actions.release.commits import Change

_SECTIONS = (
    ("Features", ("feat",)),
    ("Fixes", ("fix",)),
    ("Performance", ("perf",)),
    ("Reverts", ("revert",)),
)


def _line(change: Change) -> str:
    scope = f"**{change.scope}:** " if change.scope else ""
    sha = f" ({change.sha[:7]})" if change.sha else ""
    return f"- {scope}{change.subject}{sha}"


def render_notes(changes: Sequence[Change]) -> str:
    """Markdown: Breaking Changes, Features, Fixes, Performance, then any other kinds."""
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
    known: set[str] = set()
    for title, types in _SECTIONS:
        known.update(types)
        picked = [c for c in changes if c.type in types]
        if picked:
            blocks.append(f"### {title}\n\n" + "\n".join(_line(c) for c in picked))
    others = [c for c in changes if c.type not in known and not c.breaking]
    if others:
        blocks.append("### Other Changes\n\n" + "\n".join(_line(c) for c in others))
    return "\n\n".join(blocks)
