"""Edit values in YAML text by splicing, then prove it (Renovate's splice-then-verify).

A change names a node found by the parser (its start and end offsets), so only the value's
text is replaced or a line is added; the rest of the file stays byte for byte. The result is
parsed again and must equal the original documents with exactly the intended changes applied,
or nothing is returned. Parsing uses libyaml (PyYAML's C loader) when it is installed, which is
about 30 times faster, and ruamel.yaml's pure-Python composer otherwise: both give the same
nodes with the same character offsets.
"""

from __future__ import annotations

import importlib
import itertools
import json
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from deploy_actions.errors import FileError

BOM = b"\xef\xbb\xbf"
STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
NodePath = tuple[int, ...]  # document index, then pair index (mappings) or item index (sequences)
Pairs = tuple[tuple[str, str], ...]

# A comparison of two readings may not visit more nodes than this (a "billion laughs" of aliases).
_MAX_NODES = 2_000_000


class YamlSyntaxError(Exception):
    """The text is not YAML (or not UTF-8); `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


def _pure_composer() -> Callable[[str], list[Any]]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    def compose(text: str) -> list[Any]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. a reused anchor: valid YAML, no news for users
                return list(YAML(typ="safe", pure=True).compose_all(text))
        except YAMLError as exc:
            raise _syntax_error(exc) from None

    return compose


def _libyaml_composer() -> Callable[[str], list[Any]] | None:
    try:
        pyyaml = importlib.import_module("yaml")
        loader_class = pyyaml.CSafeLoader  # only there when PyYAML was built with libyaml
    except (ImportError, AttributeError):
        return None
    error_class = pyyaml.YAMLError

    def compose(text: str) -> list[Any]:
        loader = loader_class(text)
        try:
            docs = []
            while loader.check_node():
                docs.append(loader.get_node())
            return docs
        except error_class as exc:
            raise _syntax_error(exc) from None
        finally:
            loader.dispose()

    return compose


def _syntax_error(exc: Exception) -> YamlSyntaxError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return YamlSyntaxError(f"is not valid YAML: {problem}", line)


_fast = _libyaml_composer()
_compose = _fast or _pure_composer()
BACKEND = "libyaml" if _fast is not None else "ruamel.yaml (pure Python)"


def compose(text: str) -> list[Any]:
    """The documents of `text` as parser nodes; raises YamlSyntaxError."""
    try:
        return _compose(text)
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. nesting deeper than Python's stack
        raise YamlSyntaxError(f"is not valid YAML: {exc}") from None


def decode(data: bytes) -> tuple[bytes, str]:
    """(bom, text): YAML is read as UTF-8, a byte-order mark kept aside and put back on write."""
    bom = BOM if data.startswith(BOM) else b""
    try:
        return bom, data[len(bom):].decode("utf-8")
    except UnicodeDecodeError as exc:
        at = exc.start + len(bom)
        raise YamlSyntaxError(f"is not UTF-8 text (bad byte at offset {at})", data[:at].count(b"\n") + 1) from None


# --------------------------------------------------------------------------- scalar text

_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_./+](?:[A-Za-z0-9_./:@+=~-]*[A-Za-z0-9_./@+=~-])?")
# What a plain scalar would be read as other than a string, in YAML 1.1 or 1.2 (Kubernetes and
# Helm read 1.1): numbers, booleans, null, dates. Such values are written in double quotes.
_NOT_A_STRING = re.compile(
    r"""[-+]?[0-9][0-9_]*|0o[0-7]+|[-+]?0b[01_]+|[-+]?0x[0-9a-fA-F_]+
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
    |[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
    |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}.*)?
    |~|null|Null|NULL|[yYnN]|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE
    |on|On|ON|off|Off|OFF|<<|=""",
    re.VERBOSE,
)
_PROPERTIES = re.compile(r"(?:(?:&[^\s,\[\]{}]+|![^\s,\[\]{}]*)\s+)+")


def plain_ok(value: str, *, in_flow: bool = False) -> bool:
    """Whether `value` can be written without quotes and still read back as that string."""
    if in_flow and any(c in value for c in ",[]{}"):
        return False
    return bool(_PLAIN_SAFE.fullmatch(value)) and not _NOT_A_STRING.fullmatch(value)


def scalar_text(value: str, style: str = "", *, in_flow: bool = False) -> str:
    """`value` written in `style` ('' plain, "'" or '"'), quoted when plain would misread it."""
    printable = value.isprintable()
    if style == "'" and printable:
        return "'" + value.replace("'", "''") + "'"
    if style == "" and plain_ok(value, in_flow=in_flow):
        return value
    return json.dumps(value, ensure_ascii=False)  # JSON strings are YAML double-quoted scalars


# --------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class SetValue:
    """Give the scalar `node` at `path` the string `value` (`key`: its mapping key node, used
    when the scalar is empty, as in `tag:`). With `tag=INT`, the value is a whole number written
    plain (a traffic weight, a replica count) in place of a plain whole number."""

    node: Any
    path: NodePath
    value: str
    key: Any = None
    tag: str = STR


@dataclass(frozen=True)
class AddPairs:
    """Add `key: value` pairs at the end of the mapping `node` at `path`."""

    node: Any
    path: NodePath
    pairs: Pairs


@dataclass(frozen=True)
class DropPair:
    """Remove the `index`-th pair of the block mapping `node` at `path` (see `can_drop`)."""

    node: Any
    path: NodePath
    index: int


@dataclass(frozen=True)
class AddItem:
    """Add a mapping of `pairs` at the end of the sequence `node` at `path`."""

    node: Any
    path: NodePath
    pairs: Pairs


@dataclass(frozen=True)
class AddSequence:
    """Add `key:` with a block sequence of mappings at the end of the block mapping `node`."""

    node: Any
    path: NodePath
    key: str
    items: tuple[Pairs, ...]


@dataclass(frozen=True)
class EditEmbedded:
    """Make `changes` in the YAML held by the literal block scalar `node` at `path` (Argo CD's
    `helm.values: |`, Chart.yaml's `annotations.images`). `inner` is that YAML as read from the
    file (`YamlText.embedded`), at the file's own offsets, so its changes splice the file directly."""

    node: Any
    path: NodePath
    inner: YamlText
    changes: tuple[Change, ...]


Change = SetValue | AddPairs | DropPair | AddItem | AddSequence | EditEmbedded


@dataclass(frozen=True)
class _Splice:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Unit:
    """Stretches of the text parsed together: whole documents, each from a `---` line to the next."""

    stretches: tuple[tuple[int, int], ...]
    docs: range  # their indices in YamlText.docs
    whole: bool  # the whole file, nothing emptied

    @property
    def end(self) -> int:
        return self.stretches[-1][1]


_DOC_START = re.compile(r"^---(?=[ \t\r\n]|\Z)", re.MULTILINE)
_NOT_A_BREAK = re.compile(r"[^\r\n\x85\u2028\u2029]")
_LINE_HEAD = re.compile(r"(?<=\n) ")  # a line's first column, after the first line


def _mask(text: str, *, comment: bool = False) -> str:
    """`text` blanked out, line breaks kept; with `comment`, its lines after the first are comment
    lines (blank lines after a kept document could join a `|+` block scalar at its end, comment
    lines cannot; the first line is the rest of a `---` line)."""
    blank = _NOT_A_BREAK.sub(" ", text)
    return _LINE_HEAD.sub("#", blank) if comment else blank


def _read(text: str, whole: bool) -> list[Any]:
    """The documents of `text`; of an assembled text (not `whole`), without the emptied ones."""
    docs = compose(text)
    return docs if whole else [d for d in docs if not (d.id == "scalar" and d.tag.endswith(":null") and not d.value)]


def _refuse_duplicate_keys(docs: list[Any]) -> None:
    """A key written twice in one mapping is an error (YAML forbids it; parsers disagree on which wins)."""
    seen: set[int] = set()
    stack = list(docs)
    while stack:
        node = stack.pop()
        if node.id == "scalar" or id(node) in seen:
            continue
        seen.add(id(node))
        if node.id == "sequence":
            stack.extend(node.value)
            continue
        keys: set[str] = set()
        for key, value in node.value:
            if key.id == "scalar":
                if key.value in keys and key.value != "<<":
                    raise YamlSyntaxError(f"is not valid YAML: the key {key.value!r} appears twice in one mapping",
                                          int(key.start_mark.line) + 1)
                keys.add(key.value)
            else:
                stack.append(key)
            stack.append(value)


class YamlText:
    """One YAML file as read: its bytes, its text and its parsed documents.

    With a `needle`, only the documents whose text contains it are parsed (a `---` line at
    column 0 always starts a document, so documents can be cut apart before parsing); the
    text before them is blanked out, keeping every offset and line number as in the file."""

    def __init__(self, relpath: str, data: bytes, needle: str | None = None):
        self.relpath = relpath
        self.data = data
        self.bom, self.text = decode(data)
        self.docs: list[Any] = []
        self.units: list[_Unit] = []
        if needle is None or re.search(r"^%", self.text, re.MULTILINE):  # directives: read it whole
            self._parse([(0, len(self.text))])
        else:
            self._parse(self._stretches(lambda s, e: self.text.find(needle, s, e) >= 0))

    def include_all(self) -> None:
        """Parse the documents left out so far (their indices follow the ones already read)."""
        covered = {start for unit in self.units for start, _ in unit.stretches}
        if len(self.units) == 1 and self.units[0].stretches == ((0, len(self.text)),):
            return
        self._parse(self._stretches(lambda s, e: s not in covered))

    def embedded(self, node: Any) -> YamlText:
        """The YAML held by the literal block scalar `node`, read at the file's own offsets (a
        block scalar's lines are the YAML's lines, indented). YamlSyntaxError when it is not
        YAML, or would not read the same as the string does on its own."""
        if node.id != "scalar" or node.style != "|":
            raise YamlSyntaxError("is not a literal block scalar (|)")
        start = _line_end(self.text, node.start_mark.index)
        masked = _mask(self.text[:start]) + self.text[start : node.end_mark.index]
        inner = YamlText(self.relpath, masked.encode("utf-8"))
        alone = compose(node.value)
        if len(alone) != len(inner.docs) or not _Comparison(()).equal(list(zip(alone, inner.docs, strict=True))):
            raise YamlSyntaxError("reads differently inside the file than on its own")
        return inner

    def in_file_order(self) -> list[tuple[int, Any]]:
        """(index, document) for every parsed document, as they come in the file."""
        return sorted(enumerate(self.docs), key=lambda pair: int(pair[1].start_mark.index))

    def _stretches(self, wanted: Callable[[int, int], bool]) -> list[tuple[int, int]]:
        """The (start, end) of the wanted documents (a `---` line at column 0 starts one)."""
        bounds = [0, *(m.start() for m in _DOC_START.finditer(self.text) if m.start() > 0), len(self.text)]
        return [(start, end) for start, end in itertools.pairwise(bounds) if wanted(start, end)]

    def _parse(self, stretches: list[tuple[int, int]]) -> None:
        """Parse `stretches` in one pass, in time linear in the file's size."""
        if not stretches:
            return
        whole = stretches == [(0, len(self.text))]
        docs = _read(self._assemble(stretches), whole)
        _refuse_duplicate_keys(docs)
        self.units.append(_Unit(tuple(stretches), range(len(self.docs), len(self.docs) + len(docs)), whole))
        self.docs += docs

    def _assemble(self, stretches: Sequence[tuple[int, int]]) -> str:
        """The text up to the last stretch, the documents between stretches emptied: a `---` line and comment
        lines, so that every offset and line number stays as in the file and each such document
        reads as empty (blank lines could join a `|+` block scalar before them; comments cannot)."""
        parts, at = [], 0
        for start, end in stretches:
            if start > at:
                gap = self.text[at:start]
                head = 3 if gap.startswith("---") else 0
                parts += [gap[:head], _mask(gap[head:], comment=True)]
            parts.append(self.text[start:end])
            at = end
        return "".join(parts)

    @property
    def eol(self) -> str:
        newline = self.text.find("\n")
        return "\r\n" if newline > 0 and self.text[newline - 1] == "\r" else "\n"

    def line(self, node: Any) -> int:
        return int(node.start_mark.line) + 1

    def can_drop(self, mapping: Any, index: int) -> bool:
        """A pair can be removed when it sits on lines of its own in a block mapping that keeps
        at least one other pair."""
        if mapping.flow_style or len(mapping.value) < 2:
            return False
        key, value = mapping.value[index]
        start = self.text.rfind("\n", 0, key.start_mark.index) + 1
        if self.text[start : key.start_mark.index].strip(" "):
            return False
        end = max(key.end_mark.index, _subtree_end(value))
        rest = self.text[end : _line_end(self.text, end)].strip()
        return rest == "" or rest.startswith("#")

    # ---------------------------------------------------------------- editing

    def line_of_change(self, change: Change) -> int:
        """The 1-based line where `change` puts its text (for added entries, the entry's first)."""
        splice = self._splices([change])[0][1]
        line = self.text.count("\n", 0, splice.start) + 1
        if splice.text.startswith(("\n", "\r\n")):
            line += 1
        return line + 1 if isinstance(change, AddSequence) else line

    def apply(self, changes: Sequence[Change], what: str) -> bytes:
        """The file's new bytes with `changes` made and verified; FileError if they cannot be
        made without changing anything else. `what` names the change for messages."""
        if not changes:
            return self.data
        changes = _merge_embedded(changes)
        for change in changes:
            if isinstance(change, EditEmbedded):  # the YAML inside the string, read again on its own
                change.inner.apply(change.changes, what)
        splices = self._splices(changes)
        text = _spliced(self.text, [s for _, s in splices])
        for index, unit in enumerate(self.units):
            mine = [c for c in changes if c.path[0] in unit.docs]
            if mine:  # read again what changed (the other documents are byte for byte the same)
                self._verify(unit, self._unit_text(unit, text, [s for u, s in splices if u == index]), mine, what)
        return self.bom + text.encode("utf-8")

    def _unit_text(self, unit: _Unit, spliced: str, splices: Sequence[_Splice]) -> str:
        """The text `unit` was parsed from, with its `splices` made (`spliced`: the whole file's)."""
        if unit.whole:
            return spliced
        return _spliced(self._assemble(unit.stretches), splices)

    def _unit_of(self, change: Change) -> int:
        return next(i for i, unit in enumerate(self.units) if change.path[0] in unit.docs)

    def _splices(self, changes: Sequence[Change]) -> list[tuple[int, _Splice]]:
        by_node: dict[int, tuple[SetValue, _Splice]] = {}
        splices: list[tuple[int, _Splice]] = []
        for change in changes:
            if isinstance(change, SetValue):
                splice = self._set_value(change)
                seen = by_node.get(id(change.node))
                if seen is not None:  # the same node through an alias: one splice
                    if seen[0].value != change.value:
                        raise FileError(
                            f"one value (shared through a YAML anchor) would need two different values: "
                            f"{seen[0].value!r} and {change.value!r}; edit it by hand",
                            file=self.relpath, line=self.line(change.node))
                    continue
                by_node[id(change.node)] = (change, splice)
            elif isinstance(change, AddPairs):
                splice = self._add_pairs(change)
            elif isinstance(change, EditEmbedded):
                unit = self._unit_of(change)
                splices += [(unit, inner) for _, inner in change.inner._splices(change.changes)]
                continue
            elif isinstance(change, DropPair):
                splice = self._drop_pair(change)
            elif isinstance(change, AddItem):
                splice = self._add_item(change)
            else:
                splice = self._add_sequence(change)
            splices.append((self._unit_of(change), splice))
        ordered = sorted((s for _, s in splices), key=lambda s: (s.start, s.end))
        for first, second in itertools.pairwise(ordered):
            if second.start < first.end or (second.start == first.start and first.end == first.start):
                raise FileError("two changes touch the same text; edit it by hand", file=self.relpath)
        return splices

    def _set_value(self, change: SetValue) -> _Splice:
        node = change.node
        start, end = node.start_mark.index, node.end_mark.index
        raw = self.text[start:end]
        properties = _PROPERTIES.match(raw)  # an anchor or tag before the value: keep it
        if properties:
            start += properties.end()
            raw = raw[properties.end() :]
        if change.tag == INT:
            if node.tag != INT or (node.style or "") != "" or raw != node.value or not change.value.isdigit():
                raise FileError(f"the value {_show(str(node.value))} is not a plain whole number, so it cannot "
                                "be rewritten as one; write it as digits", file=self.relpath, line=self.line(node))
            return _Splice(start, start + len(raw), change.value)
        style = node.style or ""
        if raw == "" and node.value == "" and style == "" and change.key is not None:
            colon = _colon_after(self.text, change.key.end_mark.index)
            if colon is not None:  # `tag:` with nothing: write ` value` after the colon
                text = " " + scalar_text(change.value, "", in_flow=_in_flow(self.text, colon))
                return _Splice(colon + 1, colon + 1, text)
        if style == "":
            exact = raw == node.value and "\n" not in raw
        elif style == "'":
            exact = raw == "'" + node.value.replace("'", "''") + "'"
        elif style == '"':
            exact = raw == '"' + node.value + '"' and "\\" not in raw
        else:
            exact = False
        if not exact:
            raise FileError(
                f"the value {_show(node.value)} is written as a block scalar, across lines or with "
                "escapes, so it cannot be rewritten in place; write it on one line",
                file=self.relpath, line=self.line(node))
        in_flow = _in_flow(self.text, start)
        return _Splice(start, start + len(raw), scalar_text(change.value, style, in_flow=in_flow))

    def _add_pairs(self, change: AddPairs) -> _Splice:
        mapping = change.node
        if mapping.flow_style:
            body = ", ".join(f"{k}: {scalar_text(v, in_flow=True)}" for k, v in change.pairs)
            return self._flow_append(mapping, "}", body)
        indent = mapping.value[0][0].start_mark.column
        lines = [" " * indent + f"{k}: {scalar_text(v)}" for k, v in change.pairs]
        return self._append_lines(_mapping_end(mapping), lines)

    def _drop_pair(self, change: DropPair) -> _Splice:
        if not self.can_drop(change.node, change.index):
            raise FileError("cannot remove a key here; edit it by hand", file=self.relpath,
                            line=self.line(change.node))
        key, value = change.node.value[change.index]
        start = self.text.rfind("\n", 0, key.start_mark.index) + 1
        end = _line_end(self.text, max(key.end_mark.index, _subtree_end(value)))
        if end == len(self.text) and not self.text.endswith("\n"):
            # the last line of a file without a final newline: take the newline before it
            start -= 2 if self.text[max(start - 2, 0) : start] == "\r\n" else 1
            start = max(start, 0)
        return _Splice(start, end, "")

    def _add_item(self, change: AddItem) -> _Splice:
        sequence = change.node
        if sequence.flow_style:
            body = "{" + ", ".join(f"{k}: {scalar_text(v, in_flow=True)}" for k, v in change.pairs) + "}"
            return self._flow_append(sequence, "]", body)
        dash, offset = self._dash_layout(sequence.value[0])
        return self._append_lines(_subtree_end(sequence), _entry_lines(change.pairs, dash, offset))

    def _add_sequence(self, change: AddSequence) -> _Splice:
        mapping = change.node
        if mapping.flow_style:
            raise FileError(f"cannot add {change.key}: to a flow mapping; add it by hand", file=self.relpath)
        indent = mapping.value[0][0].start_mark.column
        dash = indent
        for key, value in mapping.value:  # follow the file: are its lists indented under their key?
            if value.id == "sequence" and not value.flow_style and value.value:
                dash = indent + max(self._dash_layout(value.value[0])[0] - key.start_mark.column, 0)
                break
        lines = [" " * indent + f"{change.key}:"]
        for pairs in change.items:
            lines += _entry_lines(pairs, dash, 2)
        return self._append_lines(_mapping_end(mapping), lines)

    def _dash_layout(self, item: Any) -> tuple[int, int]:
        """(column of the `-` before a block sequence item, columns from `-` to the item)."""
        at = item.start_mark.index - 1
        while at >= 0 and self.text[at] in " \t":
            at -= 1
        if at < 0 or self.text[at] != "-":
            raise FileError("cannot tell how this list is indented; edit it by hand",
                            file=self.relpath, line=self.line(item))
        line_start = self.text.rfind("\n", 0, at) + 1
        return at - line_start, item.start_mark.index - at

    def _append_lines(self, after: int, lines: list[str]) -> _Splice:
        at = _line_end(self.text, after)
        eol = "\r\n" if self.text[max(at - 2, 0) : at] == "\r\n" else self.eol
        if at == len(self.text) and not self.text.endswith("\n"):
            return _Splice(at, at, "".join(eol + line for line in lines))  # still no final newline
        return _Splice(at, at, "".join(line + eol for line in lines))

    def _flow_append(self, node: Any, closer: str, body: str) -> _Splice:
        close = node.end_mark.index - 1
        if self.text[close : close + 1] != closer:
            raise FileError("cannot find the end of this flow collection; edit it by hand",
                            file=self.relpath, line=self.line(node))
        last = close - 1
        while self.text[last] in " \t\r\n":
            last -= 1
        if self.text[last] in "{[":
            return _Splice(last + 1, last + 1, body)
        if self.text[last] == ",":
            return _Splice(last + 1, last + 1, " " + body)
        return _Splice(last + 1, last + 1, ", " + body)

    # ---------------------------------------------------------------- verification

    def _verify(self, unit: _Unit, text: str, changes: Sequence[Change], what: str) -> None:
        line = self.line(changes[0].node)
        try:
            after = _read(text, unit.whole)
        except YamlSyntaxError as exc:
            raise FileError(f"changing {what} would make the file invalid YAML ({exc.message}); "
                            "nothing was written; edit it by hand", file=self.relpath, line=line) from None
        try:
            same = _Comparison(changes).documents(unit.docs, [self.docs[i] for i in unit.docs], after)
        except RecursionError:
            same = False
        if not same:
            raise FileError(
                f"cannot change {what} without changing anything else (is the value shared through "
                "a YAML anchor?); nothing was written; edit it by hand",
                file=self.relpath, line=line)


def _spliced(text: str, splices: Sequence[_Splice]) -> str:
    """`text` with `splices` made, in one pass."""
    parts, at = [], 0
    for splice in sorted(splices, key=lambda s: (s.start, s.end)):
        parts += [text[at : splice.start], splice.text]
        at = splice.end
    parts.append(text[at:])
    return "".join(parts)


def _merge_embedded(changes: Sequence[Change]) -> list[Change]:
    """One EditEmbedded per block scalar, holding every change planned inside it."""
    merged: dict[int, EditEmbedded] = {}
    result: list[Change] = []
    for change in changes:
        if not isinstance(change, EditEmbedded):
            result.append(change)
        elif id(change.node) in merged:
            first = merged[id(change.node)]
            merged[id(change.node)] = EditEmbedded(first.node, first.path, first.inner, first.changes + change.changes)
        else:
            merged[id(change.node)] = change
    return result + list(merged.values())


class _Comparison:
    """Old and new documents, walked side by side: equal except where a change says otherwise."""

    def __init__(self, changes: Sequence[Change]):
        self.at: dict[NodePath, list[Change]] = {}
        self.above: set[NodePath] = set()  # paths with a change somewhere below them
        for change in changes:
            self.at.setdefault(change.path, []).append(change)
            for n in range(1, len(change.path)):
                self.above.add(change.path[:n])
        self.done: set[tuple[int, int]] = set()
        self.budget = _MAX_NODES

    def documents(self, indices: Sequence[int], old: Sequence[Any], new: Sequence[Any]) -> bool:
        pairs = zip(indices, old, new, strict=False)
        return len(old) == len(new) and all(self.same(a, b, (i,)) for i, a, b in pairs)

    def touched(self, path: NodePath) -> bool:
        return path in self.at or path in self.above

    def same(self, old: Any, new: Any, path: NodePath) -> bool:
        """`new` is `old` with the changes at and below `path` made."""
        if not self.touched(path):
            return self.equal([(old, new)])
        changes = self.at.get(path, [])
        for change in changes:
            if isinstance(change, SetValue):
                return bool(new.id == "scalar" and new.tag == change.tag and new.value == change.value)
            if isinstance(change, EditEmbedded):
                return self._embedded(new, change)
        if old.id != new.id or old.id == "scalar":
            return False
        dropped = {c.index for c in changes if isinstance(c, DropPair)}
        kept = [(i, child) for i, child in enumerate(old.value) if i not in dropped]
        added: list[Any] = []
        for change in changes:
            if isinstance(change, AddPairs):
                added += change.pairs
            elif isinstance(change, AddItem):
                added.append(change.pairs)
            elif isinstance(change, AddSequence):
                added.append((change.key, change.items))
        if len(new.value) != len(kept) + len(added):
            return False
        untouched = []
        for (i, old_child), new_child in zip(kept, new.value, strict=False):
            child_path = (*path, i)
            if old.id == "mapping":
                untouched.append((old_child[0], new_child[0]))
                old_child, new_child = old_child[1], new_child[1]
            if not self.touched(child_path):
                untouched.append((old_child, new_child))
            elif not self.same(old_child, new_child, child_path):
                return False
        return self.equal(untouched) and all(
            _is_added(expected, node) for expected, node in zip(added, new.value[len(kept):], strict=True))

    def _embedded(self, new: Any, change: EditEmbedded) -> bool:
        """`new` is a string whose YAML reads as the old one's with the changes made inside it."""
        if new.id != "scalar" or new.tag != STR:
            return False
        inner = change.inner
        expected = compose(_spliced(inner.text, [s for _, s in inner._splices(change.changes)]))
        try:
            got = compose(new.value)
        except YamlSyntaxError:
            return False
        return len(got) == len(expected) and self.equal(list(zip(expected, got, strict=True)))

    def equal(self, pairs: list[tuple[Any, Any]]) -> bool:
        """Each old node reads exactly as its new one (no changes anywhere below)."""
        stack, done = pairs, self.done
        while stack:
            old, new = stack.pop()
            self.budget -= 1
            if self.budget < 0:
                return False  # an alias bomb: refuse rather than spin
            kind = old.id
            if kind != new.id:
                return False
            if kind == "scalar":
                if old.tag != new.tag or old.value != new.value:
                    return False
                continue
            pair = (id(old), id(new))
            if pair in done:  # an alias seen before
                continue
            done.add(pair)
            if len(old.value) != len(new.value):
                return False
            if kind == "mapping":
                for (old_key, old_value), (new_key, new_value) in zip(old.value, new.value, strict=True):
                    stack.append((old_key, new_key))
                    stack.append((old_value, new_value))
            else:
                stack.extend(zip(old.value, new.value, strict=True))
        return True


def _is_string(node: Any, value: str) -> bool:
    return bool(node.id == "scalar" and node.tag == STR and node.value == value)


def _is_added(expected: Any, node: Any) -> bool:
    """`node` is what an AddPairs pair, an AddItem mapping or an AddSequence pair added."""
    first, second = expected if isinstance(expected[0], str) else (None, expected)
    if first is not None and isinstance(second, str):  # a pair of scalars
        return _is_string(node[0], first) and _is_string(node[1], second)
    if first is not None:  # key: [mappings]
        items = second
        key, value = node
        return (_is_string(key, first) and value.id == "sequence" and len(value.value) == len(items)
                and all(_is_mapping(v, p) for v, p in zip(value.value, items, strict=True)))
    return _is_mapping(node, second)


def _is_mapping(node: Any, pairs: Pairs) -> bool:
    return (node.id == "mapping" and len(node.value) == len(pairs)
            and all(_is_string(k, a) and _is_string(v, b) for (k, v), (a, b) in zip(node.value, pairs, strict=True)))


def _entry_lines(pairs: Pairs, dash: int, offset: int) -> list[str]:
    lines = []
    for n, (key, value) in enumerate(pairs):
        lead = " " * dash + "-" + " " * (offset - 1) if n == 0 else " " * (dash + offset)
        lines.append(f"{lead}{key}: {scalar_text(value)}")
    return lines


def _subtree_end(node: Any) -> int:
    """Where the text of `node` ends: the end of its last scalar (block collections' own end
    marks point at the next token, past comments that belong to what follows)."""
    while node.id != "scalar" and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if node.id == "mapping" else last
    return int(node.end_mark.index)


def _mapping_end(mapping: Any) -> int:
    key, value = mapping.value[-1]
    return max(int(key.end_mark.index), _subtree_end(value))  # an alias value points back to its anchor


def _line_end(text: str, at: int) -> int:
    """The offset just past the line break that ends the line holding `at`."""
    if at > 0 and text[at - 1] == "\n":
        return at
    newline = text.find("\n", at)
    return len(text) if newline < 0 else newline + 1


def _colon_after(text: str, at: int) -> int | None:
    while at < len(text) and text[at] in " \t":
        at += 1
    return at if text[at : at + 1] == ":" else None


def _in_flow(text: str, at: int) -> bool:
    """Whether `at` is inside `[...]` or `{...}` on its line (flow collections over several lines
    are rare in manifests; a wrong guess only costs quotes, which verification accepts)."""
    line = text[text.rfind("\n", 0, at) + 1 : at]
    return line.count("[") + line.count("{") > line.count("]") + line.count("}")


def _show(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")
