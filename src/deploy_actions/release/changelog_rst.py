"""reStructuredText changelogs (python-semantic-release writes `CHANGELOG.rst`): read them into
the same `Changelog` values as Markdown ones, and prepend a release.

A section title is a line of text under (and optionally over) a line of one repeated
punctuation character at least as long; levels follow the order in which the adornment styles
first appear, as docutils does. A version entry is a title naming a version
(`v1.2.0 (2024-01-02)`), at the level of the first such title; titles below it are its
sections. A `.. _changelog-v1.2.0:` label just above a title belongs to that title.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from deploy_actions.errors import FileError
from deploy_actions.release import changelog as cl
from deploy_actions.release.pep440 import parse_any

RST_HEADER = ".. _changelog:\n\n=========\nCHANGELOG\n=========\n"
_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1*$")  # one repeated printable punctuation character
_LABEL = re.compile(r"^\.\. _[^:]+:\s*$")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$")
_MD_BULLET = re.compile(r"^([ \t]*)[-+*][ \t]+")


@dataclass(frozen=True)
class _Title:
    index: int  # 0-based line of the title text
    first: int  # 0-based first line of the heading (its overline, or the label above it)
    after: int  # 0-based line after the underline
    style: tuple[str, bool]  # (character, with overline)
    text: str


def _titles(lines: Sequence[str]) -> list[_Title]:
    titles: list[_Title] = []
    i = 0
    while i + 1 < len(lines):
        text, under = lines[i].rstrip(), lines[i + 1].rstrip()
        over = lines[i - 1].rstrip() if i > 0 else ""
        if (text.strip() and not text[0].isspace() and not _ADORNMENT.match(text)
                and _ADORNMENT.match(under) and len(under) >= len(text.strip())):
            overlined = bool(over) and over == under
            first = i - 1 if overlined else i
            if first > 0 and _LABEL.match(lines[first - 1].strip()):
                first -= 1
            elif first > 1 and not lines[first - 1].strip() and _LABEL.match(lines[first - 2].strip()):
                first -= 2
            titles.append(_Title(i, first, i + 2, (under[0], overlined), text.strip()))
            i += 2
            continue
        i += 1
    return titles


def _version_title(text: str) -> cl.ParsedHeading | None:
    """A title that names a version (or Unreleased); `1.0 migration notes` does not."""
    parsed = cl.parse_version_heading(text)
    if parsed is None or parsed.version == cl.UNRELEASED or parse_any(parsed.version) is not None:
        return parsed
    return None


def parse_rst(text: str, path: str) -> cl.Changelog:
    """Parse reStructuredText changelog text. Never raises."""
    lines = cl.split_lines(text)
    titles = _titles(lines)
    levels: dict[tuple[str, bool], int] = {}
    for title in titles:
        levels.setdefault(title.style, len(levels) + 1)
    version_level = next((levels[t.style] for t in titles if _version_title(t.text) is not None), None)
    content = [bool(line.strip()) and not _LABEL.match(line.strip()) for line in lines]
    entries: list[cl.Entry] = []
    for n, title in enumerate(titles):
        if levels[title.style] != version_level:
            continue
        parsed = _version_title(title.text)
        if parsed is None:
            continue
        end = len(lines)
        sections: list[tuple[str, int]] = []
        for later in titles[n + 1:]:
            if levels[later.style] <= levels[title.style]:
                end = later.first
                break
            if levels[later.style] == levels[title.style] + 1:
                sections.append((later.text, later.index))
        entries.append(cl.make_entry(lines, content, title.index, end, parsed, sections, body_start=title.after))
    return cl.Changelog(path=path, entries=tuple(entries), links=(), line_count=len(lines),
                        footer_line=len(lines) + 1)


def markdown_to_rst(notes: str) -> str:
    """Our release notes (Markdown: `### Heading`, `- item`) in reStructuredText."""
    out: list[str] = []
    for line in notes.splitlines():
        heading = _MD_HEADING.match(line)
        if heading:
            title = heading.group(1)
            out += [title, "-" * max(len(title), 3)]
            continue
        out.append(_MD_BULLET.sub(lambda m: f"{m.group(1)}* ", line, count=1))
    return "\n".join(out)


def prepend_rst(text: str, version: str, date: str, notes_markdown: str, path: str) -> str:
    """`text` with a section for `version` above the first older one (or after the title), in
    python-semantic-release's layout; unchanged when the version has an entry already."""
    before = parse_rst(text, path)
    if before.entry(version) is not None:
        return text
    crlf = "\r\n" in text
    pieces = text.split("\n")  # joined with "\n" again; a CR stays at the end of its piece
    lines = cl.split_lines(text)
    info = parse_any(version)
    older = [e for e in before.entries if e.version_info is not None and info is not None
             and e.version_info.compare(info) < 0]
    titles = _titles(lines)
    by_line = {t.index: t for t in titles}
    underline = by_line[before.entries[0].heading_line - 1].style[0] if before.entries else "="
    if older:
        at = by_line[older[0].heading_line - 1].first
    elif before.entries:
        at = len(lines)
    else:
        at = titles[0].after if titles else 0
        while at < len(lines) and not lines[at].strip():
            at += 1
    heading = f"v{version} ({date})"
    block = [f".. _changelog-v{version}:", "", heading, underline * len(heading), ""]
    body = markdown_to_rst(notes_markdown.strip())
    if body:
        block += [*body.splitlines(), ""]
    if at > 0 and lines[at - 1].strip():
        block.insert(0, "")
    if at >= len(lines) and block[-1] == "":
        block.pop()
        if pieces[-1] != "":  # no final newline: end the last line first
            pieces.append("")
            at = len(pieces) - 1
    new = [line + ("\r" if crlf else "") for line in block]
    result = "\n".join(pieces[:at] + new + pieces[at:])
    after = parse_rst(result, path)
    if after.entry(version) is None or len(after.entries) != len(before.entries) + 1:
        raise FileError(f"the new changelog section for {version} did not read back as written; "
                        "the changelog was left unchanged", file=path)
    return result
