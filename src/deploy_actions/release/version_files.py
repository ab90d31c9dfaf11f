"""Rewrite the version in the files that carry it (`version-files`), byte for byte.

Every edit is a splice, then a check (as Renovate does it): find the exact text of the old
version, put the new version in its place, read the file again and keep the result only if
the intended field now reads the new version and every other value is unchanged. So the diff
is the version text and nothing else: comments, quotes, key order, CRLF, BOM and a missing
final newline all survive.
"""

from __future__ import annotations

import copy
import json
import math
import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import tomlkit
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from tomlkit.exceptions import TOMLKitError

from deploy_actions.errors import FileError, InputError
from deploy_actions.files import FileEdit, inside_repo
from deploy_actions.release.pep440 import parse_any, same_version, to_pep440

INPUT = "version-files"
SUPPORTED = (
    "pyproject.toml, package.json, Chart.yaml, VERSION, *.app.src, mix.exs, Cargo.toml, "
    "or PATH:REGEX with one capture group (or a group named 'version')"
)

_BOM = b"\xef\xbb\xbf"
_PYTHON_FILES = frozenset({"setup.cfg", "pyproject.toml"})
# What a version may look like: semver's characters, with an optional `v` in front.
_VERSION_TEXT = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+\-]*")
_V_PREFIX = re.compile(r"([vV]?)(\d.*)", re.DOTALL)

Key = tuple[str | int, ...]


# --------------------------------------------------------------------------- planning


def plan_version_files(
    repo_root: Path, entries: Sequence[str], current: str | None, new: str
) -> list[FileEdit]:
    """Read, edit and verify every version file in memory; write nothing.

    `current` is the version of the newest release (None: there is none yet, so accept the
    version each file holds). A field that already reads `new` is left alone, and a file with
    nothing left to change is not in the result. Raises InputError or FileError, naming the
    entry or the file and line, on the first problem.
    """
    _check_version("version", new)
    if current is not None:
        _check_version("previous-version", current)
    root = repo_root.resolve()
    files: dict[Path, _OpenFile] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        relpath, fmt = _parse_entry(entry)
        path = _inside(root, relpath, entry)
        if path not in files:  # the same file listed twice is edited once, in turn
            files[path] = _OpenFile.load(path, relpath)
        opened = files[path]
        opened.text = _rewrite(fmt, opened.text, relpath, current, new)
    return [f.edit() for f in files.values() if f.changed]


def read_version(repo_root: Path, entries: Sequence[str]) -> tuple[str, str] | None:
    """The version the first listed version file holds, without a leading `v`, and that
    entry (commitizen's `version_provider`), or None when no entry is listed."""
    root = repo_root.resolve()
    for raw in entries:
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        relpath, fmt = _parse_entry(entry)
        opened = _OpenFile.load(_inside(root, relpath, entry), relpath)
        reading = _read(fmt, opened.text, relpath)
        if not reading.fields:
            raise FileError(f"has no version to read; expected {fmt.wants}", file=relpath)
        return _split_v(reading.fields[0].value)[1], entry
    return None


def files_of(repo_root: Path, entries: Sequence[str]) -> list[Path]:
    """The files the entries name, each entry checked (its format, its path inside the repository)."""
    root = repo_root.resolve()
    paths = []
    for raw in entries:
        entry = raw.strip()
        if entry and not entry.startswith("#"):
            paths.append(_inside(root, _parse_entry(entry)[0], entry))
    return paths


def _check_version(name: str, version: str) -> None:
    if not _VERSION_TEXT.fullmatch(version):
        raise InputError(name, version, "a version such as 1.3.0 or 2.0.0-rc.1")


def _parse_entry(entry: str) -> tuple[str, _Format]:
    if ":" in entry:
        relpath, pattern = entry.split(":", 1)
        relpath = relpath.strip()
        regex = _RegexFormat.compile(entry, pattern)
        regex.python = relpath.endswith((".py", ".pyi")) or PurePosixPath(relpath).name in _PYTHON_FILES
        return relpath, regex
    name = PurePosixPath(entry).name
    fmt = _BY_NAME.get(name)
    if fmt is None and name.endswith(".app.src"):
        fmt = _ERLANG
    if fmt is None:
        raise InputError(INPUT, entry, SUPPORTED)
    return entry, fmt


def _inside(root: Path, relpath: str, entry: str) -> Path:
    return inside_repo(root, relpath, INPUT, entry)


class _OpenFile:
    def __init__(self, path: Path, relpath: str, before: bytes, bom: bytes, text: str):
        self.path = path
        self.relpath = relpath
        self.before = before
        self.bom = bom
        self.text = text
        self.original = text

    @classmethod
    def load(cls, path: Path, relpath: str) -> _OpenFile:
        if not path.exists():
            raise FileError("not found (it is listed in version-files)", file=relpath)
        if not path.is_file():
            raise FileError("is not a regular file (it is listed in version-files)", file=relpath)
        try:
            before = path.read_bytes()
        except OSError as exc:
            raise FileError(f"cannot be read: {exc.strerror or exc}", file=relpath) from exc
        bom = _BOM if before.startswith(_BOM) else b""
        try:
            text = before[len(bom) :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FileError(
                f"is not UTF-8 text (bad byte at offset {exc.start + len(bom)})", file=relpath
            ) from exc
        return cls(path, relpath, before, bom, text)

    @property
    def changed(self) -> bool:
        return self.text != self.original

    def edit(self) -> FileEdit:
        # Valid UTF-8 decodes and encodes back to the same bytes, so only the splice differs.
        after = self.bom + self.text.encode("utf-8")
        return FileEdit(self.path, self.relpath, self.before, after)


def _rewrite(fmt: _Format, text: str, relpath: str, current: str | None, new: str) -> str:
    reading = _read(fmt, text, relpath)
    if not reading.fields:
        if reading.derived:  # e.g. {vsn, git}: the build derives it, there is nothing to edit
            return text
        raise FileError(f"has no version to rewrite; expected {fmt.wants}", file=relpath)
    new_bare = _split_v(new)[1]
    written = _spelling(fmt, new_bare, relpath)
    current_bare = None if current is None else _split_v(current)[1]
    for key in [f.key for f in reading.fields]:
        field = reading.field(key)
        prefix, bare = _split_v(field.value)
        if same_version(bare, new_bare):
            continue  # already bumped: nothing to do
        if current_bare is not None and not same_version(bare, current_bare):
            raise FileError(
                f"{field.name} is {_show(field.value)}, expected {current} (the version of the "
                f"newest release tag) or {new} (already bumped); fix the file or leave it out "
                "of version-files",
                file=relpath,
                line=_line_of(text, field),
            )
        if not _VERSION_TEXT.fullmatch(field.value):
            raise FileError(
                f"{field.name} is {_show(field.value)}, which does not look like a version",
                file=relpath,
                line=_line_of(text, field),
            )
        text, reading = _splice(fmt, text, reading, field, prefix + written, relpath)
    return text


def _spelling(fmt: _Format, version: str, relpath: str) -> str:
    """How `version` is written in this file: PEP 440 in Python files (1.3.0-rc.1 → 1.3.0rc1)."""
    if not fmt.python:
        return version
    parsed = parse_any(version)
    spelled = to_pep440(parsed) if parsed is not None else None
    if spelled is None:
        raise FileError(f"is a Python file, and {version} has no PEP 440 spelling; use a prerelease "
                        "id of alpha, beta, rc or dev (1.3.0-rc.1 is written 1.3.0rc1)", file=relpath)
    return spelled


def _read(fmt: _Format, text: str, relpath: str) -> _Reading:
    try:
        return fmt.read(text)
    except _Problem as problem:
        raise FileError(problem.message, file=relpath, line=problem.line) from None


def _splice(
    fmt: _Format, text: str, reading: _Reading, field: _Field, replacement: str, relpath: str
) -> tuple[str, _Reading]:
    """Put `replacement` where the field's text is; keep the first splice that reads right."""
    expected = _with_value(reading.document, field.key, replacement)
    for start in _candidates(text, field):
        trial = text[:start] + replacement + text[start + len(field.value) :]
        try:
            after = fmt.read(trial)
        except _Problem:
            continue
        if _same(after.document, expected):
            return trial, after
    raise FileError(
        f"cannot rewrite {field.name} ({_show(field.value)}) without changing anything else "
        "(is it written with escapes, or shared through a YAML anchor?); edit it by hand or "
        "use a PATH:REGEX entry",
        file=relpath,
        line=_line_of(text, field),
    )


def _candidates(text: str, field: _Field) -> list[int]:
    """Offsets where the field's value text appears, the likeliest first."""
    if field.start is not None:
        return [field.start] if text.startswith(field.value, field.start) else []
    starts = []
    at = text.find(field.value)
    while at >= 0:
        starts.append(at)
        at = text.find(field.value, at + 1)
    key = re.escape(str(field.key[-1]))
    hint = re.compile(rf"""(?:^|[\s{{,"'.]){key}["']?\s*[:=]\s*(?:"{{1,3}}|'{{1,3}})?$""")

    def likeliness(start: int) -> tuple[bool, int, int]:
        before = text[text.rfind("\n", 0, start) + 1 : start]
        indent = len(before) - len(before.lstrip())
        return (hint.search(before) is None, indent, start)

    return sorted(starts, key=likeliness)


def _line_of(text: str, field: _Field) -> int | None:
    starts = _candidates(text, field)
    return text.count("\n", 0, starts[0]) + 1 if starts else None


def _split_v(version: str) -> tuple[str, str]:
    """('v', '1.2.3') for 'v1.2.3': a `v` in front of a version is kept as it was written."""
    match = _V_PREFIX.fullmatch(version)
    return (match.group(1), match.group(2)) if match else ("", version)


def _show(value: object) -> str:
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text if _VERSION_TEXT.fullmatch(text) else repr(text)


def _with_value(document: Any, key: Key, value: str) -> Any:
    result = copy.deepcopy(document)
    node = result
    for part in key[:-1]:
        node = node[part]
    node[key[-1]] = value
    return result


def _same(a: Any, b: Any, seen: set[tuple[int, int]] | None = None) -> bool:
    """Equal values of equal types, in the same order; NaN equals NaN, cycles are allowed."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if not isinstance(a, dict | list | tuple):
        return bool(a == b)
    seen = set() if seen is None else seen
    if (id(a), id(b)) in seen:
        return True
    seen.add((id(a), id(b)))
    if len(a) != len(b):
        return False
    if isinstance(a, dict):
        return all(
            _same(ka, kb, seen) and _same(va, vb, seen)
            for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    return all(_same(x, y, seen) for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------------------- formats


class _Problem(Exception):
    """A file cannot be read as its format; becomes a FileError naming the file."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class _Field:
    key: Key  # where the value sits in the reading's document
    name: str  # what people call it: "[project].version"
    value: str
    start: int | None = None  # offset of the value's text, when the reader knows it


@dataclass(frozen=True)
class _Reading:
    document: Any  # the whole file as plain data: the splice may change only the field
    fields: tuple[_Field, ...]
    derived: str | None = None  # why a file without fields has nothing to rewrite

    def field(self, key: Key) -> _Field:
        return next(f for f in self.fields if f.key == key)


class _Format(ABC):
    wants: str  # the fields looked for, for messages
    python = False  # a Python file: versions are written the PEP 440 way

    @abstractmethod
    def read(self, text: str) -> _Reading:
        """Parse `text`; raise _Problem if it is not in this format."""


_MISSING = object()


def _lookup(document: Any, key: Key) -> Any:
    node = document
    for part in key:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _string_fields(document: Any, wanted: Iterable[tuple[Key, str]]) -> tuple[_Field, ...]:
    fields = []
    for key, name in wanted:
        value = _lookup(document, key)
        if value is _MISSING:
            continue
        if not isinstance(value, str):
            raise _Problem(f"{name} is {_show(value)}, not a version string")
        fields.append(_Field(key, name, value))
    return tuple(fields)


def _parse_toml(text: str) -> Any:
    try:
        return tomlkit.parse(text).unwrap()
    except (TOMLKitError, ValueError) as exc:
        raise _Problem(f"is not valid TOML: {exc}", getattr(exc, "line", None)) from None


def _parse_json(text: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise _Problem(f"is not valid JSON: the key {key!r} appears twice in one object")
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise _Problem(f"is not valid JSON: {exc.msg}", exc.lineno) from None
    except (ValueError, RecursionError) as exc:
        raise _Problem(f"is not valid JSON: {exc}") from None


def _parse_yaml(text: str) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a reused anchor: valid YAML, no news for users
            return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or exc
        raise _Problem(f"is not valid YAML: {problem}", line) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise _Problem(f"is not valid YAML: {exc}") from None


class _PyprojectFormat(_Format):
    wants = "[project].version or [tool.poetry].version"
    python = True
    _FIELDS = ((("project", "version"), "[project].version"),
               (("tool", "poetry", "version"), "[tool.poetry].version"))

    def read(self, text: str) -> _Reading:
        document = _parse_toml(text)
        fields = _string_fields(document, self._FIELDS)
        dynamic = _lookup(document, ("project", "dynamic"))
        if not fields and isinstance(dynamic, list) and "version" in dynamic:
            raise _Problem(
                "has no version to rewrite: [project].version is dynamic; list the file that "
                "holds it as PATH:REGEX instead (e.g. src/app/__init__.py:__version__ = \"(.+)\")"
            )
        return _Reading(document, fields)


class _CargoFormat(_Format):
    wants = "[package].version or [workspace.package].version"

    def read(self, text: str) -> _Reading:
        document = _parse_toml(text)
        inherited = _lookup(document, ("package", "version"))
        if isinstance(inherited, dict) and inherited.get("workspace") is True:
            match = re.search(r"^[ \t]*version\s*(?:\.\s*workspace|=\s*\{)", text, re.MULTILINE)
            raise _Problem(
                "[package] takes version.workspace = true; list the workspace root's "
                "Cargo.toml (with [workspace.package].version) in version-files instead",
                text.count("\n", 0, match.start()) + 1 if match else None,
            )
        fields = _string_fields(
            document,
            ((("package", "version"), "[package].version"),
             (("workspace", "package", "version"), "[workspace.package].version")),
        )
        return _Reading(document, fields)


class _PackageJsonFormat(_Format):
    wants = 'a top-level "version"'

    def read(self, text: str) -> _Reading:
        document = _parse_json(text)
        if not isinstance(document, dict):
            raise _Problem("is not a JSON object")
        return _Reading(document, _string_fields(document, [(("version",), '"version"')]))


class _ChartFormat(_Format):
    wants = "version or appVersion"

    def read(self, text: str) -> _Reading:
        document = _parse_yaml(text)
        if not isinstance(document, dict):
            raise _Problem("is not a YAML mapping")
        fields = _string_fields(
            document, [(("version",), "version"), (("appVersion",), "appVersion")]
        )
        return _Reading(document, fields)


class _VersionFileFormat(_Format):
    wants = "the version as the whole content"

    def read(self, text: str) -> _Reading:
        value = text.strip()
        if not value:
            return _Reading([], ())
        if any(c.isspace() for c in value):
            raise _Problem("should hold only the version, on one line")
        start = len(text) - len(text.lstrip())
        return _Reading([value], (_Field((0,), "the version", value, start),))


def _mask_comments(text: str, comment: str, char_literal: str, heredocs: bool) -> str:
    """`text` with comments (and heredocs) blanked out at the same offsets; strings kept."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == comment:
            end = text.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
        elif c == char_literal and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_?!")):
            i += 3 if text[i + 1 : i + 2] == "\\" else 2  # $" in Erlang, ?# in Elixir
        elif c in "\"'":
            if heredocs and text.startswith(c * 3, i):  # documentation: never a field
                end = text.find(c * 3, i + 3)
                end = n if end < 0 else end + 3
                out[i:end] = ("\n" if ch == "\n" else " " for ch in text[i:end])
                i = end
                continue
            i += 1
            while i < n and text[i] != c:
                i += 2 if text[i] == "\\" else 1
            i += 1
        else:
            i += 1
    return "".join(out)


class _ErlangAppFormat(_Format):
    wants = '{vsn, "X"}'
    # a string, or what rebar3 fills in at build time: git, semver, {cmd, ...}, {file, ...}
    _VSN = re.compile(r'\{\s*vsn\s*,\s*(?:"((?:[^"\\\n]|\\.)*)"|[a-z]\w*\s*\}|\{)')

    def read(self, text: str) -> _Reading:
        fields: list[_Field] = []
        derived = None
        for match in self._VSN.finditer(_mask_comments(text, "%", "$", heredocs=False)):
            value = match.group(1)
            if value is None or value == "%VSN%":  # {vsn, git}, {vsn, {cmd, ...}}, "%VSN%"
                derived = "the build sets vsn"
                continue
            fields.append(_Field((len(fields),), '{vsn, "..."}', value, match.start(1)))
        return _Reading([f.value for f in fields], tuple(fields), derived)


class _MixFormat(_Format):
    wants = '@version "X" or version: "X"'
    _VERSION = re.compile(
        r'(?P<attr>@version[ \t]+)"(?P<a>[^"\\\n]*)"|(?<![\w:@])version:\s*"(?P<k>[^"\\\n]*)"'
    )

    def read(self, text: str) -> _Reading:
        fields: list[_Field] = []
        for match in self._VERSION.finditer(_mask_comments(text, "#", "?", heredocs=True)):
            group = "a" if match.group("attr") else "k"
            value = match.group(group)
            if "#{" in value:
                continue  # "v#{@version}" is built from the real one
            name = "@version" if group == "a" else "version:"
            fields.append(_Field((len(fields),), name, value, match.start(group)))
        if not fields and re.search(r"version:\s*@version", text):
            raise _Problem(
                'has version: @version, but no @version "X" to rewrite; if @version is read '
                "from another file, list that file instead"
            )
        return _Reading([f.value for f in fields], tuple(fields))


class _RegexFormat(_Format):
    def __init__(self, pattern: re.Pattern[str], group: int | str):
        self.pattern = pattern
        self.group = group
        self.wants = f"a match of {pattern.pattern!r}"

    @classmethod
    def compile(cls, entry: str, source: str) -> _RegexFormat:
        expected = "PATH:REGEX where REGEX is a Python regular expression with exactly one "
        expected += "capture group (or a group named 'version') around the version"
        if not source:
            raise InputError(INPUT, entry, expected)
        try:
            pattern = re.compile(source, re.MULTILINE)
        except re.error as exc:
            raise InputError(INPUT, entry, f"{expected} ({exc})") from exc
        if "version" in pattern.groupindex:
            return cls(pattern, "version")
        if pattern.groups != 1:
            raise InputError(INPUT, entry, f"{expected}; it has {pattern.groups} groups")
        return cls(pattern, 1)

    def read(self, text: str) -> _Reading:
        fields: list[_Field] = []
        for match in self.pattern.finditer(text):
            start, end = match.span(self.group)
            value = text[start:end]
            start += len(value) - len(value.lstrip())  # a trailing \r or blank is not version
            value = value.strip()
            if value:
                name = f"the version matched by {_show(self.pattern.pattern)}"
                fields.append(_Field((len(fields),), name, value, start))
        if not fields:
            raise _Problem(f"has no match for {_show(self.pattern.pattern)}")
        return _Reading([f.value for f in fields], tuple(fields))


_ERLANG = _ErlangAppFormat()
_BY_NAME: dict[str, _Format] = {
    "pyproject.toml": _PyprojectFormat(),
    "package.json": _PackageJsonFormat(),
    "Chart.yaml": _ChartFormat(),
    "VERSION": _VersionFileFormat(),
    "mix.exs": _MixFormat(),
    "Cargo.toml": _CargoFormat(),
}
