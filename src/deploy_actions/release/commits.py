"""Conventional Commits 1.0.0: a commit message becomes the changes it announces.

A message can announce several changes: a squash-merge body lists one per `* type: subject`
line. A message that follows no convention announces nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from deploy_actions.errors import InputError


class Level(IntEnum):
    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3


DEFAULT_RULES: dict[str, Level] = {
    "feat": Level.MINOR,
    "fix": Level.PATCH,
    "perf": Level.PATCH,
    "revert": Level.PATCH,
}

_HEADER = re.compile(
    r"^(?P<type>[A-Za-z][A-Za-z0-9_-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?: (?P<subject>\S.*)$"
)
_BULLET = re.compile(r"^[*-][ \t]+(?P<header>.+)$")
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE: ?(?P<note>.*)$")
_GIT_REVERT = re.compile(r'^Revert "(?P<subject>.+)"$')
_FOOTER_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9-]*(?:: | #)")


@dataclass(frozen=True, slots=True)  # slots: a long history keeps many of these for the notes
class Change:
    """One change a commit announces."""

    type: str  # lower-cased
    subject: str
    scope: str | None = None
    breaking: bool = False
    breaking_note: str = ""
    sha: str = ""


def needs_full_parse(message: bytes) -> bool:
    """Whether anything past the first line can matter: a breaking footer or squash bullets.
    Checked on the raw bytes, so most commits are never decoded beyond their subject."""
    return b"BREAKING" in message or b"\n*" in message or b"\n-" in message


def parse_header(line: str, sha: str = "") -> Change | None:
    """The change a header line announces (all there is when the body cannot matter)."""
    line = line.strip()
    match = _HEADER.match(line)
    if match:
        return Change(
            type=match["type"].lower(), subject=match["subject"].strip(),
            scope=(match["scope"] or "").strip() or None, breaking=bool(match["bang"]), sha=sha,
        )
    revert = _GIT_REVERT.match(line) if line.startswith("Revert") else None
    if revert:  # git's own `Revert "feat: x"` message
        return Change(type="revert", subject=revert["subject"], sha=sha)
    return None


def parse_message(message: str, sha: str = "") -> list[Change]:
    """The changes announced by one commit message (empty when it follows no convention)."""
    if "BREAKING" not in message and "\n*" not in message and "\n-" not in message:
        # Fast path (most commits): no footer and no squash bullets, so only the header speaks.
        first_line, _, _ = message.partition("\n")
        change = parse_header(first_line, sha)
        return [change] if change else []
    lines = message.replace("\r\n", "\n").split("\n")
    first = parse_header(lines[0], sha) if lines else None
    changes: list[Change] = [first] if first else []
    notes: list[str] = []
    in_footer_note = False
    for line in lines[1:]:
        footer = _BREAKING_FOOTER.match(line)
        if footer:
            notes.append(footer["note"].strip())
            in_footer_note = True
            continue
        if (in_footer_note and line.strip() and not _BULLET.match(line)
                and not _FOOTER_TOKEN.match(line)):
            notes[-1] = (notes[-1] + " " + line.strip()).strip()
            continue
        in_footer_note = False
        bullet = _BULLET.match(line)
        if bullet:
            change = parse_header(bullet["header"], sha)
            if change:
                changes.append(change)
    if notes:
        note = "\n".join(n for n in notes if n)
        if changes:
            head = changes[0]
            changes[0] = Change(head.type, head.subject, head.scope, True, note, head.sha)
        else:
            # A breaking footer under a non-conventional header still breaks users.
            changes.append(Change("other", lines[0].strip(), None, True, note, sha))
    return changes


def parse_rules(lines: tuple[str, ...] | list[str], input_name: str = "commit-types") -> dict[str, Level]:
    """The default type → level table, changed by `type: level` lines."""
    rules = dict(DEFAULT_RULES)
    names = {level.name.lower(): level for level in Level}
    for line in lines:
        match = re.match(r"^\s*([A-Za-z][A-Za-z0-9_-]*)\s*[:=]\s*([A-Za-z]+)\s*$", line)
        if not match or match[2].lower() not in names:
            raise InputError(input_name, line, "lines of `type: level` with level major, minor, patch or none")
        rules[match[1].lower()] = names[match[2].lower()]
    return rules


def level_of(change: Change, rules: dict[str, Level]) -> Level:
    if change.breaking:
        return Level.MAJOR
    return rules.get(change.type, Level.NONE)
