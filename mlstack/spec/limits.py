"""Bounds on what a spec file may make the loader do, checked while the YAML is parsed.

A spec is a few hundred lines. A file far bigger, nested far deeper, or whose
aliases expand into far more nodes than it spells out ("billion laughs") is refused
with its position before anything walks the tree recursively or expands an alias.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    NodeEvent,
)
from ruamel.yaml.parser import RoundTripParser

MAX_BYTES = 2 * 1024 * 1024
"""Largest spec file read, in bytes (the example is about 6 KiB)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences (the spec's own schema needs about 8)."""
MAX_ALIAS_NODES = 10_000
"""Nodes that aliases may add to the document, in total, once expanded."""


@dataclass
class LimitExceeded(Exception):
    """The document goes past one of the bounds; line and column are 0-based."""

    line: int
    column: int
    message: str


class _Open:
    __slots__ = ("anchor", "nodes")

    def __init__(self, anchor: str | None) -> None:
        self.anchor = anchor
        self.nodes = 1


class LimitedParser(RoundTripParser):
    """ruamel's round-trip parser, counting depth and alias expansion as events are consumed.

    The composer builds a node only after taking its start event from here, so a
    refusal comes before any recursion into a too-deep node or any expansion.
    """

    def __init__(self, loader: Any) -> None:
        super().__init__(loader)
        self._open: list[_Open] = []
        self._sizes: dict[str, int] = {}  # anchor -> nodes its node expands to
        self._aliased = 0

    def reset_parser(self) -> None:
        super().reset_parser()
        self._open = []
        self._sizes = {}
        self._aliased = 0

    def get_event(self) -> Any:
        event = super().get_event()
        if event is not None:
            self._count(event)
        return event

    def _add(self, nodes: int) -> None:
        if self._open:
            self._open[-1].nodes += nodes

    def _count(self, event: Any) -> None:
        mark = event.start_mark
        if isinstance(event, AliasEvent):
            if any(o.anchor == event.anchor for o in self._open):
                raise LimitExceeded(mark.line, mark.column, f"alias *{event.anchor} refers to a node that contains it")
            nodes = self._sizes.get(event.anchor, 1)  # an undefined alias is the composer's to report
            self._aliased += nodes
            if self._aliased > MAX_ALIAS_NODES:
                raise LimitExceeded(
                    mark.line,
                    mark.column,
                    f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes in all (this *{event.anchor} "
                    f"adds {nodes:,}); refusing to expand them",
                )
            self._add(nodes)
        elif isinstance(event, CollectionStartEvent):
            if len(self._open) >= MAX_DEPTH:
                raise LimitExceeded(
                    mark.line, mark.column, f"nested more than {MAX_DEPTH} levels deep; refusing to read further"
                )
            self._open.append(_Open(event.anchor))
        elif isinstance(event, CollectionEndEvent):
            done = self._open.pop()
            if done.anchor is not None:
                self._sizes[done.anchor] = done.nodes
            self._add(done.nodes)
        elif isinstance(event, NodeEvent):  # a scalar
            if event.anchor is not None:
                self._sizes[event.anchor] = 1
            self._add(1)


def non_finite(root: Any) -> list[tuple[int, int, tuple[str | int, ...], float]]:
    """Every infinity or NaN in the tree: 0-based (line, column), path and value.

    They would pass as floats, or as a member of a union, and break the arithmetic
    or the JSON later; finding them in the tree gives one located line per value
    whatever field (or unknown key) holds them.
    """
    found: list[tuple[int, int, tuple[str | int, ...], float]] = []
    seen: set[int] = set()
    todo: deque[tuple[Any, tuple[str | int, ...]]] = deque([(root, ())])  # in document order
    while todo:
        node, parts = todo.popleft()
        if id(node) in seen:  # an alias: its node was checked where it was written
            continue
        seen.add(id(node))
        items = node.items() if isinstance(node, CommentedMap) else enumerate(node)
        for key, value in items:
            if isinstance(value, CommentedMap | CommentedSeq):
                todo.append((value, (*parts, key)))
            elif isinstance(value, float) and not math.isfinite(value):
                entry = node.lc.data.get(key) if node.lc.data else None
                line, column = (entry[-2], entry[-1]) if entry else (node.lc.line, node.lc.col)
                found.append((line, column, (*parts, key), float(value)))
    return found
