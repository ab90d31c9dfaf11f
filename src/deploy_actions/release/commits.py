"""Conventional Commits 1.0.0: a commit message becomes the changes it announces.

A message can announce several changes: a squash-merge body lists one per `* type: subject`
line, and release-please's `BEGIN_NESTED_COMMIT` … `END_NESTED_COMMIT` blocks hold whole
messages. Which bullets count is the `squash-bodies` rule: `auto` (only under a header that is
not conventional, i.e. GitHub's default squash title "Title (#12)"), `always` or `never`.
Quoted text (`>` lines, `<blockquote>`, `<details>`, code fences) and a dependency bot's
metadata never count: Dependabot and Renovate quote upstream release notes there. A message
that follows no convention announces nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

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
_RELEASE_AS = re.compile(r"^release-as:[ \t]*(?P<version>\S+)[ \t]*$", re.IGNORECASE | re.MULTILINE)
# One scan of the raw bytes says whether anything past the header can matter.
_FULL_PARSE = re.compile(rb"BREAKING|\n[*-]|NESTED_COMMIT|(?im:^release-as:)")
_PR_SUFFIX = re.compile(r"\s*\(#\d+\)$")
_NESTED_BEGIN, _NESTED_END = "BEGIN_NESTED_COMMIT", "END_NESTED_COMMIT"
_OVERRIDE = re.compile(r"^[ \t]*BEGIN_COMMIT_OVERRIDE[ \t]*\r?\n(?P<text>.*?)^[ \t]*END_COMMIT_OVERRIDE[ \t]*$",
                       re.MULTILINE | re.DOTALL)
_PR_NUMBER = re.compile(rb"\(#(?P<number>[0-9]{1,9})\)[ \t]*$")
# Where quoted text starts and ends (HTML that bots write; code fences); `>` lines are quotes too.
_QUOTE_OPEN = re.compile(r"^\s*<(details|blockquote)\b", re.IGNORECASE)
_QUOTE_CLOSE = {"details": re.compile(r"</details\s*>", re.IGNORECASE),
                "blockquote": re.compile(r"</blockquote\s*>", re.IGNORECASE)}
_FENCE = re.compile(r"^\s*(```|~~~)")
# Dependabot's machine-readable trailer: `---`, `updated-dependencies:` … `...`
_BOT_METADATA = re.compile(r"^updated-dependencies:\s*$")

SquashBodies = Literal["auto", "always", "never"]
SQUASH_BODIES: tuple[SquashBodies, ...] = ("auto", "always", "never")


@dataclass(frozen=True, slots=True)  # slots: a long history keeps many of these for the notes
class Change:
    """One change a commit announces."""

    type: str  # lower-cased
    subject: str
    scope: str | None = None
    breaking: bool = False
    breaking_note: str = ""
    sha: str = ""


@dataclass(frozen=True)
class CommitPolicy:
    """How a repository's commits are read: the type → level table, which squash bullets
    count, and the types kept for the release notes although they release nothing (a
    `docs` section in the changelog)."""

    rules: Mapping[str, Level] = field(default_factory=lambda: dict(DEFAULT_RULES))
    squash_bodies: SquashBodies = "auto"
    noted: frozenset[str] = frozenset()
    # A commit message → the messages that replace it (a pull request's BEGIN_COMMIT_OVERRIDE), or None.
    override: Callable[[bytes], list[str] | None] | None = None


def needs_full_parse(message: bytes) -> bool:
    """Whether anything past the first line can matter: a breaking footer, squash bullets,
    nested commits or a Release-As footer. Checked on the raw bytes, so most commits are never
    decoded beyond their subject."""
    return _FULL_PARSE.search(message) is not None


def release_as(message: str) -> str | None:
    """The version a `Release-As: x.y.z` footer asks for (any case, as release-please reads it)."""
    found = None
    for match in _RELEASE_AS.finditer(_unquoted_text(message)):
        found = match["version"]
    return found


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


def parse_message(message: str, sha: str = "", squash_bodies: SquashBodies = "auto") -> list[Change]:
    """The changes announced by one commit message (empty when it follows no convention)."""
    if ("BREAKING" not in message and "\n*" not in message and "\n-" not in message
            and "NESTED_COMMIT" not in message):
        # Fast path (most commits): no footer, no squash bullets, nothing nested: only the header speaks.
        first_line, _, _ = message.partition("\n")
        change = parse_header(first_line, sha)
        return [change] if change else []
    outer, nested = _split_nested(message.replace("\r\n", "\n"))
    changes = _parse_one(outer, sha, squash_bodies)
    for inner in nested:
        changes.extend(_parse_one(inner, sha, squash_bodies))
    return _dedupe(changes)


def _split_nested(message: str) -> tuple[str, list[str]]:
    """The message without its nested-commit blocks, and the text of each block."""
    if _NESTED_BEGIN not in message:
        return message, []
    outer: list[str] = []
    nested: list[str] = []
    current: list[str] | None = None
    for line in message.split("\n"):
        if line.strip() == _NESTED_BEGIN:
            current = []
        elif line.strip() == _NESTED_END and current is not None:
            nested.append("\n".join(current).strip("\n"))
            current = None
        elif current is not None:
            current.append(line)
        else:
            outer.append(line)
    if current is not None:  # an unclosed block runs to the end, as release-please reads it
        nested.append("\n".join(current).strip("\n"))
    return "\n".join(outer), [n for n in nested if n.strip()]


def _unquoted(lines: list[str]) -> Iterator[str]:
    """The lines that are the author's own words: quotes, HTML blocks, fences and bot metadata left out."""
    closing: re.Pattern[str] | None = None
    fence: str | None = None
    in_metadata = False
    for line in lines:
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        if closing is not None:
            if closing.search(line):
                closing = None
            continue
        if in_metadata:
            in_metadata = line.strip() != "..."
            continue
        opened = _QUOTE_OPEN.match(line)
        if opened:
            close = _QUOTE_CLOSE[opened[1].lower()]
            if not close.search(line, opened.end()):
                closing = close
            continue
        fenced = _FENCE.match(line)
        if fenced:
            fence = fenced[1]
            continue
        if line.lstrip().startswith(">"):
            continue
        if _BOT_METADATA.match(line):
            in_metadata = True
            continue
        yield line


def _unquoted_text(message: str) -> str:
    return "\n".join(_unquoted(message.replace("\r\n", "\n").split("\n")))


def _parse_one(message: str, sha: str, squash_bodies: SquashBodies) -> list[Change]:
    lines = message.split("\n")
    first = parse_header(lines[0], sha) if lines else None
    changes: list[Change] = [first] if first else []
    bullets = squash_bodies == "always" or (squash_bodies == "auto" and first is None)
    notes: list[str] = []
    in_footer_note = False
    for line in _unquoted(lines[1:]):
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
        bullet = _BULLET.match(line) if bullets else None
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


def _dedupe(changes: list[Change]) -> list[Change]:
    """A squash's title and its first bullet often say the same thing: keep it once."""
    seen: dict[tuple[str, str | None, str], int] = {}
    kept: list[Change] = []
    for change in changes:
        key = (change.type, change.scope, _PR_SUFFIX.sub("", change.subject).casefold())
        if key in seen:
            index = seen[key]
            if change.breaking and not kept[index].breaking:
                kept[index] = change
            continue
        seen[key] = len(kept)
        kept.append(change)
    return kept


def pull_request_number(message: bytes) -> int | None:
    """The pull request a squash merge came from: GitHub ends its title with `(#123)`."""
    match = _PR_NUMBER.search(message.partition(b"\n")[0])
    return int(match["number"]) if match else None


def commit_override(pull_request_body: str) -> list[str] | None:
    """The messages of a `BEGIN_COMMIT_OVERRIDE` … `END_COMMIT_OVERRIDE` block (release-please):
    each conventional header line starts a message of its own, the lines after it are its
    body. None when the body has no block."""
    match = _OVERRIDE.search(pull_request_body.replace("\r\n", "\n"))
    if match is None:
        return None
    messages: list[list[str]] = []
    for line in match["text"].split("\n"):
        if _HEADER.match(line.strip()):
            messages.append([line.strip()])
        elif messages:
            messages[-1].append(line)
    return ["\n".join(lines).strip() for lines in messages]


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


def level_of(change: Change, rules: Mapping[str, Level]) -> Level:
    if change.breaking:
        return Level.MAJOR
    return rules.get(change.type, Level.NONE)
