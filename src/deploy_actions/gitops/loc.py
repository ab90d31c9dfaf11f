"""A parsed YAML node and where it sits in its file: how shapes walk documents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from deploy_actions.gitops.yaml_splice import NodePath


@dataclass(frozen=True)
class Loc:
    """A node, where it sits in its file, and (for a mapping value) its key node."""

    node: Any
    path: NodePath
    key: Any = None

    def get(self, key: str) -> Loc | None:
        if self.node.id != "mapping":
            return None
        for index, (k, v) in enumerate(self.node.value):
            if k.id == "scalar" and k.value == key:
                return Loc(v, (*self.path, index), k)
        return None

    def dig(self, *keys: str) -> Loc | None:
        loc: Loc | None = self
        for key in keys:
            loc = loc.get(key) if loc is not None else None
        return loc

    def follow(self, keys: Sequence[str | int]) -> Loc | None:
        loc: Loc | None = self
        for key in keys:
            if loc is None:
                return None
            if isinstance(key, int):
                items = loc.items()
                loc = items[key] if key < len(items) else None
            else:
                loc = loc.get(key)
        return loc

    def items(self) -> list[Loc]:
        if self.node.id != "sequence":
            return []
        return [Loc(item, (*self.path, index)) for index, item in enumerate(self.node.value)]

    def pairs(self) -> list[tuple[str | None, Loc]]:
        if self.node.id != "mapping":
            return []
        return [(k.value if k.id == "scalar" else None, Loc(v, (*self.path, index), k))
                for index, (k, v) in enumerate(self.node.value)]

    def keys(self) -> set[str]:
        if self.node.id != "mapping":
            return set()
        return {k.value for k, _ in self.node.value if k.id == "scalar"}

    @property
    def text(self) -> str | None:
        """A scalar's text ('' for null); None for collections."""
        if self.node.id != "scalar":
            return None
        return "" if self.node.tag.endswith(":null") else str(self.node.value)

    @property
    def line(self) -> int:
        """1-based; an empty value (`tag:`) is on its key's line (parsers disagree on where it starts)."""
        empty = self.node.id == "scalar" and self.node.start_mark.index == self.node.end_mark.index
        node = self.key if empty and self.key is not None else self.node
        return int(node.start_mark.line) + 1

    def pair_index(self) -> int:
        return self.path[-1]
