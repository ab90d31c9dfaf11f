"""A small JSONPath subset for picking one value out of a response: `$.a.b`, `$['a b']`, `$.items[0]`,
`$.items[-1]`. Wildcards, slices and filters are deliberately absent: a smoke assertion names one
value, and a path that can match many makes "expected X" ambiguous.

>>> JsonPath.parse("$.build['version']").find({"build": {"version": "1.2.3"}})
'1.2.3'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INDEX = re.compile(r"-?\d{1,9}")


class JsonPathError(ValueError):
    """A path that does not parse; the message says where and why."""


class Missing(LookupError):
    """The path does not lead to a value in this document; the message says where it stopped."""


@dataclass(frozen=True)
class JsonPath:
    text: str  # as written, for messages
    steps: tuple[str | int, ...]  # str: object key, int: array index (negative counts from the end)

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        path, end = cls.parse_prefix(text)
        if text[end:].strip():
            raise JsonPathError(f"unexpected {text[end:].strip()[:20]!r} after {text[:end].strip()!r}")
        return path

    @classmethod
    def parse_prefix(cls, text: str) -> tuple[JsonPath, int]:
        """Parse a path at the start of `text`; return it and where it ended (for `path = value` lines)."""
        i = len(text) - len(text.lstrip())
        start = i
        if not text.startswith("$", i):
            raise JsonPathError(f"a JSONPath starts with $, as in $.version (got {text.strip()[:20]!r})")
        i += 1
        steps: list[str | int] = []
        while i < len(text):
            char = text[i]
            if char == ".":
                match = _NAME.match(text, i + 1)
                if not match:
                    raise JsonPathError(f"expected a name after '.' at position {i + 1} of {text.strip()!r}")
                steps.append(match.group())
                i = match.end()
            elif char == "[":
                i, step = _bracket(text, i)
                steps.append(step)
            else:
                break
        return cls(text[start:i], tuple(steps)), i

    def find(self, document: object) -> object:
        """The value at this path, or `Missing` naming the first step that is not there."""
        value = document
        walked = "$"
        for step in self.steps:
            if isinstance(step, str):
                if not isinstance(value, dict) or step not in value:
                    raise Missing(f"{walked} has no key {step!r}" if isinstance(value, dict)
                                  else f"{walked} is {_kind(value)}, not an object")
                value = value[step]
                walked += f".{step}" if _NAME.fullmatch(step) else f"[{step!r}]"
            else:
                if not isinstance(value, list):
                    raise Missing(f"{walked} is {_kind(value)}, not an array")
                if not -len(value) <= step < len(value):
                    raise Missing(f"{walked} has {len(value)} item(s), no [{step}]")
                value = value[step]
                walked += f"[{step}]"
        return value

    def __str__(self) -> str:
        return self.text


def _bracket(text: str, i: int) -> tuple[int, str | int]:
    """Parse `[0]`, `[-1]`, `['key']` or `["key"]` starting at text[i] == '['."""
    j = i + 1
    if j < len(text) and text[j] in "'\"":
        quote = text[j]
        j += 1
        key: list[str] = []
        while j < len(text) and text[j] != quote:
            if text[j] == "\\" and j + 1 < len(text):
                j += 1
            key.append(text[j])
            j += 1
        if j + 1 >= len(text) or text[j] != quote or text[j + 1] != "]":
            raise JsonPathError(f"unterminated [{quote}...{quote}] in {text.strip()!r}")
        return j + 2, "".join(key)
    match = _INDEX.match(text, j)
    if not match or match.end() >= len(text) or text[match.end()] != "]":
        raise JsonPathError(f"expected [number] or ['key'] at position {i} of {text.strip()!r}")
    return match.end() + 1, int(match.group())


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
