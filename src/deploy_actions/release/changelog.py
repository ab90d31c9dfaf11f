"""Keep a Changelog files: parse once into values with line numbers, validate, extract an
entry's release notes, decide whether a pull request touched the file, and prepend a release.

Parsing never raises: whatever the text, it yields a `Changelog` and `validate` says what is
wrong with it. Only reading a file (`read_changelog`) and bad arguments raise our errors.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import semver

from deploy_actions.errors import FileError, InputError
from deploy_actions.files import read_regular_file
from deploy_actions.release.pep440 import parse_any

Status = Literal["released", "unreleased", "prerelease", "yanked"]
UNRELEASED = "Unreleased"

MAX_CHANGELOG_BYTES = 16 << 20  # the largest real changelogs are a few MiB

KEEP_A_CHANGELOG_HEADER = (
    "# Changelog\n"
    "\n"
    "All notable changes to this project will be documented in this file.\n"
    "\n"
    "The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),\n"
    "and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).\n"
    "\n"
    "## [Unreleased]\n"
)

# CommonMark: an ATX heading is 1-6 '#' after at most 3 spaces, then a space or the line end.
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}(?=[^`]*$)|~{3,})")
_LINK_DEF = re.compile(r"^ {0,3}\[(?P<label>[^\[\]]*[^\[\]\s][^\[\]]*)\]:[ \t]*(?P<url>\S*)")
_BRACKET_LABEL = re.compile(r"^\[(?P<label>[^\[\]]*)\](?P<inline>\([^()]*\))?")
_YANKED = re.compile(r"[ \t]*(?:\[[ \t]*yanked[ \t]*\]|\byanked)[ \t]*$", re.IGNORECASE)
_VERSION_LIKE = re.compile(r"^[vV]?[0-9]+\.[0-9]")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_LEADING_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9])")
_DATE_EDGES = " \t-–—:()"  # en and em dashes separate dates in the wild too
_NOT_YET_DATES = frozenset({"unreleased", "tbd", "tba", "upcoming", "releasedate", "yyyy-mm-dd"})
_COMPARE = re.compile(r"^(?P<base>.+)/compare/[^/]*$")


@dataclass(frozen=True)
class Section:
    """A `### Title` inside an entry: Added, Fixed, Breaking Changes, Rollback Plan, …"""

    title: str
    line: int
    has_content: bool  # any text besides blank lines and HTML comments (template placeholders)


@dataclass(frozen=True)
class LinkReference:
    """A link reference definition, `[label]: url`: compare links, `[@user]: …` and the like."""

    label: str
    url: str
    line: int


@dataclass(frozen=True)
class Entry:
    """One `## ` version heading and its body."""

    version: str  # "1.2.3" (leading v dropped), "Unreleased", or the text of a non-semver heading
    date: str | None  # as written; None when the heading has none
    status: Status
    notes: str  # the body without its heading, trimmed, the file's link footer excluded
    heading_line: int
    end_line: int  # last line of the body (== heading_line when it has none)
    sections: tuple[Section, ...] = ()
    link_label: str | None = None  # `[1.2.3]` in the heading: needs `[1.2.3]: url` somewhere
    bracketed: bool = False  # written `## [1.2.3]` (Keep a Changelog style) rather than `## 1.2.3`
    version_info: semver.Version | None = None  # None for Unreleased and for non-semver headings

    @property
    def is_unreleased(self) -> bool:
        return self.version == UNRELEASED

    def section(self, title: str) -> Section | None:
        key = _section_key(title)
        return next((s for s in self.sections if _section_key(s.title) == key), None)


@dataclass(frozen=True)
class Changelog:
    path: str  # as shown in messages and annotations
    entries: tuple[Entry, ...]
    links: tuple[LinkReference, ...]
    line_count: int
    footer_line: int  # first line of the trailing block of link definitions; line_count + 1 if none

    @property
    def newest(self) -> Entry | None:
        """The topmost entry (Unreleased when the file has that section)."""
        return self.entries[0] if self.entries else None

    @property
    def unreleased(self) -> Entry | None:
        return next((e for e in self.entries if e.is_unreleased), None)

    def entry(self, version: str) -> Entry | None:
        """The entry for `version` (`1.2.3`, `v1.2.3` or `Unreleased`), or None."""
        try:
            wanted = normalize_version(version)
        except ValueError:
            return None
        exact = next((e for e in self.entries if e.version == wanted), None)
        if exact is not None or wanted == UNRELEASED:
            return exact
        info = parse_any(wanted)
        if info is None:
            return None
        return next((e for e in self.entries
                     if e.version_info is not None and e.version_info.compare(info) == 0), None)


@dataclass(frozen=True)
class Problem:
    """Something wrong in a changelog, where it is, and which rule it breaks."""

    line: int
    message: str
    rule: str  # order, date, duplicate-version, duplicate-section, links, heading, required-section


@dataclass(frozen=True)
class PullRequestCheck:
    """Whether a pull request satisfies the changelog rule, and why."""

    passed: bool
    reason: Literal["touched", "skipped", "not-touched"]
    message: str


def normalize_version(text: str) -> str:
    """`v1.2.3`, `refs/tags/v1.2.3` or `1.2.3` → `1.2.3`; any case of `unreleased` → `Unreleased`.
    Python's PEP 440 spelling is a version too (`1.3.0rc1`), kept as written.

    >>> normalize_version("v1.3.0-rc.1")
    '1.3.0-rc.1'

    Raises ValueError when the text is not a semantic (or PEP 440) version.
    """
    value = text.strip()
    value = value.removeprefix("refs/tags/")
    if value.casefold() == "unreleased":
        return UNRELEASED
    if value[:1] in ("v", "V") and value[1:2].isdigit():
        value = value[1:]
    if parse_any(value) is None:
        raise ValueError(f"{text!r} is not a semantic version")
    return value


def _section_key(title: str) -> str:
    return " ".join(title.lstrip("#").strip().rstrip(":").split()).casefold()


def _label_key(label: str) -> str:
    return " ".join(label.split()).casefold()


# --------------------------------------------------------------------------------- reading


def read_changelog(path: str | Path, shown: str | None = None) -> Changelog:
    """Read and parse a changelog file; FileError (one line, exit 2) when it cannot be read."""
    name = shown or str(path)
    file = Path(path)
    try:
        data = read_regular_file(file, MAX_CHANGELOG_BYTES)
    except FileNotFoundError:
        raise FileError(f"no changelog at {name}; create it or point input 'file' at it",
                        file=name) from None
    except IsADirectoryError:
        raise FileError(f"{name} is a directory; input 'file' must name the changelog file",
                        file=name) from None
    except OSError as err:
        raise FileError(f"cannot read {name}: {err.strerror or err}; input 'file' must name the "
                        "changelog file", file=name) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise FileError(f"{name} is not UTF-8 text (byte 0x{data[err.start]:02x} at line {line}); "
                        "save it as UTF-8", file=name, line=line) from None
    return parse_changelog(text, name)


# --------------------------------------------------------------------------------- parsing


def split_lines(text: str) -> list[str]:
    """Lines as GitHub numbers them: split at LF only, a trailing CR dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    return [line[:-1] if line.endswith("\r") else line for line in lines]


@dataclass(frozen=True)
class _Heading:
    index: int  # 0-based line
    level: int
    text: str


def _scan(lines: Sequence[str]) -> tuple[list[_Heading], list[LinkReference], list[bool]]:
    """Headings and link definitions outside code fences and HTML comments, and per line
    whether it carries text (not blank, not only a comment)."""
    headings: list[_Heading] = []
    links: list[LinkReference] = []
    content = [False] * len(lines)
    fence: str | None = None
    in_comment = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if fence is not None:
            content[i] = True
            if stripped.startswith(fence) and stripped.strip(fence[0]) == "" \
                    and len(line) - len(line.lstrip(" ")) <= 3:
                fence = None
            continue
        if in_comment:
            in_comment = "-->" not in line
            continue
        first = stripped[0]
        if first == "<" and stripped.startswith("<!--") and len(line) - len(line.lstrip(" ")) <= 3:
            end = stripped.find("-->", 4)
            if end == -1:
                in_comment = True
            elif stripped[end + 3:].strip():
                content[i] = True
            continue
        content[i] = True
        if first == "#":
            match = _HEADING.match(line)
            if match:
                headings.append(_Heading(i, len(match.group(1)), match.group(2) or ""))
        elif first == "[":
            match = _LINK_DEF.match(line)
            if match:
                links.append(LinkReference(match.group("label"), match.group("url"), i + 1))
        elif first in "`~":
            match = _FENCE_OPEN.match(line)
            if match:
                fence = match.group(1)
    return headings, links, content


def _footer_start(lines: Sequence[str], link_lines: set[int]) -> int:
    """0-based index where the trailing block of link definitions (and blank lines) starts."""
    start = len(lines)
    for i in range(len(lines) - 1, -1, -1):
        stripped = lines[i].strip()
        if stripped and (i + 1) not in link_lines and not (
                stripped.startswith("<!--") and stripped.endswith("-->")):
            break
        start = i
    return start


@dataclass(frozen=True)
class ParsedHeading:
    version: str
    date: str | None
    yanked: bool
    link_label: str | None
    bracketed: bool


def parse_version_heading(text: str) -> ParsedHeading | None:
    """`[1.2.3] - 2024-01-02 [YANKED]`, `1.2.3 (2024-01-02)`, `[Unreleased]` … or None when
    the `##` heading is not a version at all (`## Contributors`)."""
    yanked_match = _YANKED.search(text)
    yanked = yanked_match is not None and yanked_match.start() > 0
    if yanked_match is not None and yanked:
        text = text[:yanked_match.start()]
    label: str | None = None
    bracketed = False
    bracket = _BRACKET_LABEL.match(text)
    if bracket:
        token = bracket.group("label").strip()
        rest = text[bracket.end():]
        bracketed = True
        if not bracket.group("inline"):
            label = bracket.group("label")
    else:
        token, _, rest = text.partition(" ")
        token, rest = token.strip(), rest
    if token.casefold() == "unreleased":
        return ParsedHeading(UNRELEASED, None, yanked, label, bracketed)
    if not _VERSION_LIKE.match(token):
        return None
    version = token[1:] if token[0] in "vV" else token
    date = rest.strip(_DATE_EDGES) or None
    if date is not None:
        leading = _LEADING_DATE.match(date)  # "2024-01-02 - Codename": the date is the first word
        date = leading.group(0) if leading else date
    return ParsedHeading(version, date, yanked, label, bracketed)


def parse_changelog(text: str, path: str = "CHANGELOG.md") -> Changelog:
    """Parse changelog text. Never raises: whatever is odd shows up in `validate`. A path
    ending in `.rst` is read as reStructuredText (see `changelog_rst`).

    A version heading is a `##` that names a version or Unreleased, or a `###` that names a
    version: release-please wrote patch releases as `### [1.0.1](…) (date)` for years, with
    their `### Bug Fixes` at the same level. An entry runs to the next version heading or `#`/`##`.
    """
    if path.lower().endswith(".rst"):
        from deploy_actions.release.changelog_rst import parse_rst

        return parse_rst(text, path)
    lines = split_lines(text)
    headings, links, content = _scan(lines)
    footer = _footer_start(lines, {link.line for link in links})
    versions = [_version_heading(h) for h in headings]
    entries: list[Entry] = []
    for n, heading in enumerate(headings):
        parsed = versions[n]
        if parsed is None:
            continue
        end = footer if heading.index < footer else len(lines)
        sections: list[tuple[str, int]] = []
        for k in range(n + 1, len(headings)):
            later = headings[k]
            if later.index >= end:
                break
            if later.level <= 2 or versions[k] is not None:
                end = later.index
                break
            if later.level == 3:
                sections.append((later.text, later.index))
        entries.append(make_entry(lines, content, heading.index, end, parsed, sections))
    return Changelog(path=path, entries=tuple(entries), links=tuple(links),
                     line_count=len(lines), footer_line=footer + 1)


def _version_heading(heading: _Heading) -> ParsedHeading | None:
    if heading.level not in (2, 3):
        return None
    parsed = parse_version_heading(heading.text)
    if parsed is None or heading.level == 2:
        return parsed
    # At level 3, only a real version: `### 1.0 migration notes` stays a section.
    return parsed if parsed.version != UNRELEASED and parse_any(parsed.version) is not None else None


def make_entry(lines: Sequence[str], content: Sequence[bool], start: int, end: int,
               parsed: ParsedHeading, section_starts: Sequence[tuple[str, int]],
               body_start: int | None = None) -> Entry:
    """The entry whose heading is line `start` (0-based) and whose body runs to `end`
    (exclusive), from `body_start` (default: the line after the heading)."""
    body_first, body_last = (start + 1 if body_start is None else body_start), end - 1
    while body_first <= body_last and not lines[body_first].strip():
        body_first += 1
    while body_last >= body_first and not lines[body_last].strip():
        body_last -= 1
    notes = "\n".join(lines[body_first:body_last + 1]).rstrip()
    sections = []
    for k, (title, index) in enumerate(section_starts):
        stop = section_starts[k + 1][1] if k + 1 < len(section_starts) else end
        sections.append(Section(title, index + 1, any(content[index + 1:stop])))
    info = None if parsed.version == UNRELEASED else parse_any(parsed.version)
    date = parsed.date
    status: Status
    if parsed.yanked:
        status = "yanked"
    elif parsed.version == UNRELEASED or (date is not None and date.casefold() in _NOT_YET_DATES):
        status, date = "unreleased", None
    elif info is not None and info.prerelease:
        status = "prerelease"
    else:
        status = "released"
    return Entry(version=parsed.version, date=date, status=status, notes=notes,
                 heading_line=start + 1, end_line=max(start + 1, body_last + 1),
                 sections=tuple(sections), link_label=parsed.link_label,
                 bracketed=parsed.bracketed, version_info=info)


# --------------------------------------------------------------------------------- validating


def validate(changelog: Changelog) -> tuple[Problem, ...]:
    """Everything that breaks Keep a Changelog's rules, ordered by line."""
    problems = [*_check_versions(changelog), *_check_dates(changelog),
                *_check_sections(changelog), *_check_links(changelog)]
    return tuple(sorted(problems, key=lambda p: (p.line, p.rule)))


def _check_versions(changelog: Changelog) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, Entry] = {}
    previous: Entry | None = None
    released_seen = False
    for entry in changelog.entries:
        line = entry.heading_line
        if entry.is_unreleased:
            if UNRELEASED in seen:
                problems.append(Problem(line, "a second Unreleased section (first at line "
                                        f"{seen[UNRELEASED].heading_line}); keep one",
                                        "duplicate-version"))
            elif released_seen:
                problems.append(Problem(line, "the Unreleased section must come before every "
                                        "released version", "order"))
            seen.setdefault(UNRELEASED, entry)
            continue
        released_seen = True
        info = entry.version_info
        if info is None:
            problems.append(Problem(line, f"'{entry.version}' is not a semantic version "
                                    "(MAJOR.MINOR.PATCH, e.g. 1.2.3, or PEP 440's 1.2.3rc1)", "heading"))
            continue
        key = str(info.finalize_version()) + ("-" + info.prerelease if info.prerelease else "")
        if key in seen:
            problems.append(Problem(line, f"a second entry for {entry.version} (first at line "
                                    f"{seen[key].heading_line}); merge them", "duplicate-version"))
            continue
        seen[key] = entry
        if previous is not None and previous.version_info is not None \
                and info.compare(previous.version_info) >= 0:
            problems.append(Problem(line, f"{entry.version} is listed below {previous.version} "
                                    f"(line {previous.heading_line}); versions must go from "
                                    "newest to oldest", "order"))
        previous = entry
    return problems


def _check_dates(changelog: Changelog) -> list[Problem]:
    problems: list[Problem] = []
    above: Entry | None = None
    for entry in changelog.entries:
        if entry.status == "unreleased":
            continue
        line = entry.heading_line
        if entry.date is None:
            problems.append(Problem(line, f"{entry.version} has no release date; write "
                                    f"'## [{entry.version}] - YYYY-MM-DD'", "date"))
            continue
        if not _is_iso_date(entry.date):
            problems.append(Problem(line, f"the date of {entry.version}, '{entry.date}', is not "
                                    "an ISO 8601 date (YYYY-MM-DD)", "date"))
            continue
        if above is not None and above.date is not None and entry.date > above.date:
            problems.append(Problem(line, f"{entry.version} is dated {entry.date}, after "
                                    f"{above.version} above it ({above.date}); dates must not "
                                    "increase down the file", "date"))
        above = entry
    return problems


def _is_iso_date(text: str) -> bool:
    if not _ISO_DATE.match(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _check_sections(changelog: Changelog) -> list[Problem]:
    problems: list[Problem] = []
    for entry in changelog.entries:
        first: dict[str, Section] = {}
        for section in entry.sections:
            key = _section_key(section.title)
            if key in first:
                problems.append(Problem(section.line, f"a second '### {section.title}' in "
                                        f"{entry.version} (first at line {first[key].line}); "
                                        "merge them", "duplicate-section"))
            else:
                first[key] = section
    return problems


def _check_links(changelog: Changelog) -> list[Problem]:
    """Only for files that link their versions at all: a file with no version link
    definitions uses `[1.2.3]` as plain text, which is consistent."""
    problems: list[Problem] = []
    definitions: dict[str, LinkReference] = {}
    version_definitions: list[LinkReference] = []
    for link in changelog.links:
        key = _label_key(link.label)
        if key in definitions:
            problems.append(Problem(link.line, f"a second link definition for [{link.label}] "
                                    f"(first at line {definitions[key].line}, which wins)", "links"))
            continue
        definitions[key] = link
        if _is_version_label(link.label):
            version_definitions.append(link)
    if not version_definitions:
        return problems
    for entry in changelog.entries:
        if entry.link_label is not None and _label_key(entry.link_label) not in definitions:
            problems.append(Problem(entry.heading_line, f"[{entry.link_label.strip()}] has no "
                                    f"link definition; add '[{entry.link_label.strip()}]: <url>' "
                                    "at the bottom of the file", "links"))
    versions = {e.version.casefold() for e in changelog.entries}
    for link in version_definitions:
        label = link.label.strip()
        name = UNRELEASED if label.casefold() == "unreleased" else label.lstrip("vV")
        if name.casefold() not in versions:
            problems.append(Problem(link.line, f"link definition [{label}] has no entry "
                                    f"'## [{label}]'; remove it or add the entry", "links"))
    return problems


def _is_version_label(label: str) -> bool:
    text = label.strip()
    return text.casefold() == "unreleased" or _VERSION_LIKE.match(text) is not None


def required_sections(entry: Entry, titles: Iterable[str]) -> tuple[Problem, ...]:
    """A problem for every required `### Title` that `entry` lacks or leaves empty."""
    problems: list[Problem] = []
    for title in titles:
        shown = title.lstrip("#").strip()
        if not shown:
            continue
        section = entry.section(title)
        if section is None:
            problems.append(Problem(entry.heading_line, f"{entry.version} has no '### {shown}' "
                                    "section (input 'require-sections' requires it)",
                                    "required-section"))
        elif not section.has_content:
            problems.append(Problem(section.line, f"'### {section.title}' in {entry.version} is "
                                    "empty; fill it in", "required-section"))
    return tuple(problems)


def missing_entry_line(changelog: Changelog, version: str) -> int:
    """Where an entry for `version` belongs: the heading it should go above (or the last line)."""
    info = parse_any(version)
    released = [e for e in changelog.entries if not e.is_unreleased]
    if info is not None:
        for entry in released:
            if entry.version_info is not None and entry.version_info.compare(info) < 0:
                return entry.heading_line
    if released:
        return released[-1].end_line
    return changelog.entries[-1].end_line if changelog.entries else max(changelog.line_count, 1)


# --------------------------------------------------------------------------------- pull requests


def _repo_path(path: str) -> str:
    normal = posixpath.normpath(path.replace("\\", "/").strip())
    return normal.removeprefix("./").lstrip("/")


def has_skip_label(labels: Iterable[str], skip_label: str) -> bool:
    """GitHub label names are unique regardless of case, so the match ignores case."""
    wanted = skip_label.strip().casefold()
    return bool(wanted) and any(label.strip().casefold() == wanted for label in labels)


def changelog_touched(files: Iterable[str], changelog_path: str, labels: Iterable[str],
                      skip_label: str) -> PullRequestCheck:
    """Does a pull request that changes `files` (repository-relative) satisfy the rule
    'every pull request updates the changelog, unless it carries the skip label'?"""
    if has_skip_label(labels, skip_label):
        return PullRequestCheck(True, "skipped",
                                f"the pull request has the label '{skip_label.strip()}'; "
                                "no changelog entry needed")
    target = _repo_path(changelog_path)
    if any(_repo_path(name) == target for name in files):
        return PullRequestCheck(True, "touched", f"the pull request updates {target}")
    hint = f" or add the label '{skip_label.strip()}'" if skip_label.strip() else ""
    return PullRequestCheck(False, "not-touched",
                            f"this pull request does not change {target}; add an entry under "
                            f"[Unreleased]{hint}")


# --------------------------------------------------------------------------------- writing


def prepend_release(text: str, version: str, date: str, notes_markdown: str,
                    tag_prefix: str = "v", compare_url_template: str | None = None,
                    path: str = "CHANGELOG.md") -> str:
    """The changelog `text` with a `## [version] - date` section holding `notes_markdown`.

    The section goes right after the Unreleased section (precisely: above the first older
    version, so a backport lands in order), or after the preamble. Everything else stays byte
    for byte, line endings included. Empty `text` starts a Keep a Changelog file. When the
    version already has an entry, `text` comes back unchanged.

    `compare_url_template` (e.g. `https://github.com/o/r/compare/{previous_tag}...{tag}`; also
    `{version}` and `{previous_version}`) adds the version's link definition and moves an
    `[Unreleased]: …/compare/vPREV...HEAD` link on to the new tag.
    """
    try:
        wanted = normalize_version(version)
    except ValueError:
        raise InputError("version", version, "a semantic version such as 1.2.3 (or PEP 440's 1.2.3rc1)") from None
    if wanted == UNRELEASED:
        raise InputError("version", version, "a released version, not Unreleased")
    if path.lower().endswith(".rst"):  # python-semantic-release's CHANGELOG.rst
        from deploy_actions.release.changelog_rst import RST_HEADER, prepend_rst

        return prepend_rst(text if text.strip() else RST_HEADER, wanted, date, notes_markdown, path)
    created = not text.strip()
    if created:
        text = KEEP_A_CHANGELOG_HEADER
    before = parse_changelog(text)
    if before.entry(wanted) is not None:
        return text
    info = parse_any(wanted)
    assert info is not None  # normalize_version accepted it
    newline = "\r\n" if "\r\n" in text else "\n"
    pieces = text.split("\n")
    ends_with_newline = pieces[-1] == ""
    if ends_with_newline:
        pieces.pop()
    lines = [p + "\n" for p in pieces]
    if not ends_with_newline and lines:
        lines[-1] = lines[-1][:-1]

    older = [(e, e.version_info) for e in before.entries
             if e.version_info is not None and e.version_info.compare(info) < 0]
    below = older[0][0] if older else None  # the first older version in the file
    previous = max(older, key=lambda pair: pair[1])[0] if older else None  # the newest of them
    style = next((e for e in before.entries if not e.is_unreleased), before.unreleased)
    bracketed = style.bracketed if style is not None else True
    at = _insertion_index(before, below, lines)

    heading = f"## [{wanted}] - {date}" if bracketed else f"## {wanted} - {date}"
    notes = [line.rstrip("\r") for line in notes_markdown.strip("\r\n").split("\n")]
    block = [heading, ""] + ([*notes, ""] if notes_markdown.strip() else [])
    edits: list[tuple[int, int, list[str]]] = []  # (start, stop, new lines), applied bottom-up
    if at > 0 and lines[at - 1].strip():
        block.insert(0, "")
    if at >= len(lines):
        while block and block[-1] == "":
            block.pop()
    edits.append((at, at, [b + newline for b in block]))
    if compare_url_template and bracketed:
        edits.extend(_link_edits(before, lines, newline, wanted, tag_prefix, previous,
                                 compare_url_template, created))
    if lines and not lines[-1].endswith("\n") and any(e[0] >= len(lines) for e in edits):
        edits.append((len(lines) - 1, len(lines), [lines[-1] + newline]))  # end the last line
    result = _apply(lines, edits)
    after = parse_changelog(result)
    added = after.entry(wanted)
    if added is None or added.date != date or len(after.entries) != len(before.entries) + 1:
        raise FileError(f"the new changelog section for {wanted} did not read back as written "
                        "(an unclosed code fence in the notes?); the changelog was left unchanged")
    return result


def _insertion_index(changelog: Changelog, below: Entry | None, lines: Sequence[str]) -> int:
    """0-based line before which the new section goes: the heading of the first older version,
    else after the last entry (or the preamble) and the blank lines that follow it."""
    if below is not None:
        return below.heading_line - 1
    at = changelog.entries[-1].end_line if changelog.entries else changelog.footer_line - 1
    at = min(at, changelog.footer_line - 1)
    while at < len(lines) and not lines[at].strip():
        at += 1
    return at


def _apply(lines: list[str], edits: list[tuple[int, int, list[str]]]) -> str:
    out = list(lines)
    # bottom-up, so earlier indexes stay valid; at one index, the edit made later lands later
    ordered = sorted(enumerate(edits), key=lambda pair: (pair[1][0], pair[1][1], pair[0]))
    for _, (start, stop, new) in reversed(ordered):
        out[start:stop] = new
    return "".join(out)


def _fill(template: str, tag: str, previous_tag: str, version: str, previous: str) -> str:
    return (template.replace("{previous_tag}", previous_tag).replace("{tag}", tag)
            .replace("{previous_version}", previous).replace("{version}", version))


def _link_edits(changelog: Changelog, lines: Sequence[str], newline: str, version: str,
                tag_prefix: str, previous: Entry | None, template: str,
                created: bool) -> list[tuple[int, int, list[str]]]:
    edits: list[tuple[int, int, list[str]]] = []
    tag = f"{tag_prefix}{version}"
    by_label = {_label_key(link.label): link for link in reversed(changelog.links)}
    if _label_key(version) in by_label:
        return edits
    if not created and not any(_is_version_label(link.label) for link in changelog.links):
        return edits  # the file does not link its versions; adding one link would break that
    if previous is not None:
        prev_tag = f"{tag_prefix}{previous.version}"
        url: str | None = _fill(template, tag, prev_tag, version, previous.version)
    else:
        compare = _COMPARE.match(template)
        url = (_fill(f"{compare.group('base')}/releases/tag/{{tag}}", tag, "", version, "")
               if compare else None)
    new_lines = [f"[{version}]: {url}"] if url else []
    unreleased = by_label.get("unreleased")
    if unreleased is not None:
        index = unreleased.line - 1
        old = lines[index]
        if previous is not None:
            prev_tag = f"{tag_prefix}{previous.version}"
            moved = old.replace(f"{prev_tag}...HEAD", f"{tag}...HEAD", 1)
            if moved != old:
                edits.append((index, index + 1, [moved]))
        if new_lines:
            edits.append((index + 1, index + 1, [n + newline for n in new_lines]))
        return edits
    if created:
        new_lines.insert(0, "[Unreleased]: " + _fill(template, "HEAD", tag, "HEAD", version))
    if not new_lines:
        return edits
    first_version_link = next((link for link in changelog.links
                               if link.line >= changelog.footer_line
                               and _VERSION_LIKE.match(link.label.strip())), None)
    if first_version_link is not None:
        index = first_version_link.line - 1
        edits.append((index, index, [n + newline for n in new_lines]))
        return edits
    # no link footer yet: append one, after a blank line
    end = len(lines)
    tail = [n + newline for n in new_lines]
    if changelog.footer_line > changelog.line_count:
        tail.insert(0, newline)
    edits.append((end, end, tail))
    return edits
