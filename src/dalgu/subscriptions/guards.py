"""Subscriptions indexed by a comparison their `q` requires: predicate indexing.

A city has many subscriptions on one type that differ only in a threshold (`speed>90`,
`pm25>=35`, `refParkingSite=="urn:…"`). Testing every one against every change costs a `q`
evaluation each; here each subscription whose `q` requires `attr op literal` (the whole `q`, or
one term of a top-level `;`) is filed under (attribute, operator, kind) in a sorted array of
literals, and a change finds the ones its values satisfy by bisection. The comparison is a
necessary condition only: those found are still tested with their whole `q`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dalgu.query.ast import And, Comparison, QExpr, QValue
from dalgu.store.indexing import IndexRow, literal_key

S = TypeVar("S")

RANGE_OPS = (">", ">=", "<", "<=")


@dataclass(frozen=True, slots=True)
class Guard:
    """`attr op value`: what a subscription's q requires of a top-level attribute's value."""

    attr: str
    op: str
    kind: str
    value: Any


def guard_of(q: QExpr | None) -> Guard | None:
    """A comparison `q` requires, or None when it requires none that can be indexed."""
    if isinstance(q, And):
        for term in q.terms:
            found = guard_of(term)
            if found is not None:
                return found
        return None
    if not isinstance(q, Comparison) or q.path.sub or q.path.compound:
        return None
    if q.op != "==" and q.op not in RANGE_OPS:
        return None
    if not isinstance(q.value, QValue):
        return None
    kind, typed = literal_key(q.value)
    if q.op != "==" and kind != "n":
        return None  # ranges over numbers only: strings and dates compare by other rules
    return Guard(q.path.attr, q.op, kind, typed)


class GuardedSet(Generic[S]):
    """Subscriptions with a guard, found by the values of a change's entity."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str, str], list[tuple[Any, S]]] = defaultdict(list)
        self._groups: dict[tuple[str, str, str], tuple[list[Any], list[S]]] = {}
        self._equal: dict[str, dict[tuple[str, Any], list[S]]] = defaultdict(dict)

    def add(self, guard: Guard, sub: S) -> None:
        if guard.op == "==":
            self._equal[guard.attr].setdefault((guard.kind, guard.value), []).append(sub)
        else:
            self._pending[(guard.attr, guard.op, guard.kind)].append((guard.value, sub))
            self._groups.pop((guard.attr, guard.op, guard.kind), None)

    def __bool__(self) -> bool:
        return bool(self._pending or self._equal)

    def select(self, rows: dict[tuple[str, str], list[IndexRow]], out: list[S]) -> None:
        """Append to `out` every subscription whose guard one of `rows` (an entity's index
        rows by attribute and path) satisfies."""
        for attr, by_value in self._equal.items():
            for row in rows.get((attr, ""), ()):
                value = row.num if row.kind in ("n", "b") else row.txt
                out.extend(by_value.get((row.kind, value), ()))
        for key in self._pending:
            attr, op, _ = key
            values, subs = self._group(key)
            for row in rows.get((attr, ""), ()):
                if row.kind != "n" or row.num is None:
                    continue
                out.extend(_satisfied(op, values, subs, row.num))

    def _group(self, key: tuple[str, str, str]) -> tuple[list[Any], list[S]]:
        group = self._groups.get(key)
        if group is None:
            pairs = sorted(self._pending[key], key=lambda pair: pair[0])
            group = self._groups[key] = ([v for v, _ in pairs], [s for _, s in pairs])
        return group


def _satisfied(op: str, values: list[Any], subs: list[S], v: float) -> Sequence[S]:
    """The subscriptions whose `value` makes `v op value` true; `values` is sorted."""
    if op == ">":  # v > value
        return subs[: bisect_left(values, v)]
    if op == ">=":
        return subs[: bisect_right(values, v)]
    if op == "<":  # v < value
        return subs[bisect_right(values, v) :]
    return subs[bisect_left(values, v) :]  # <=
