"""Answers kept a few seconds by their question: the planners' index counts.

Counting the rows an index gives a condition costs a query more than the query itself when
asked every time; a count a little stale only chooses the index less well for a moment.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
SIZE = 4096  # answers kept at most; past it all are dropped (questions vary with their values)


class Kept(Generic[V]):
    """Answers by key, each with the time it was asked (`time.monotonic()`)."""

    def __init__(self) -> None:
        self.entries: dict[Hashable, tuple[V, float]] = {}

    def get(self, key: Hashable, now: float, within: float) -> V | None:
        """The answer asked less than `within` seconds before `now`, else None."""
        kept = self.entries.get(key)
        if kept is not None and now - kept[1] < within:
            return kept[0]
        return None

    def put(self, key: Hashable, value: V, asked: float) -> None:
        if len(self.entries) > SIZE:
            self.entries.clear()
        self.entries[key] = (value, asked)
