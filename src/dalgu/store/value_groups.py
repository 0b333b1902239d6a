"""The bounds a `q` puts on values, read for the stores' value indexes.

`speed>=60;speed<62` bounds the numbers at `speed` from both sides: a value index gives the
rows within both bounds, and with them the entities that may match, without testing every
entity. Only top-level terms of an AND count (an OR may match through another term), and only
comparisons with a literal of one kind (`==`, `<`, `<=`, `>`, `>=`, and ranges `a..b`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dalgu.query.ast import And, AttrPath, Comparison, QExpr, QRange, QValue
from dalgu.store.indexing import literal_key

Group = tuple[str, str, str]  # attribute, value path, kind
Bound = tuple[str, Any]  # SQL operator, typed literal

BOUNDS = {"==": "=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


def value_groups(
    q: QExpr, indexed: Callable[[str, Comparison], bool]
) -> tuple[dict[Group, list[Bound]], int]:
    """The bounds the top-level comparisons of `q` put on each (attribute, path, kind) whose
    rows a store's index holds (`indexed`), and how many top-level terms are not among them."""
    terms = q.terms if isinstance(q, And) else (q,)
    groups: dict[Group, list[Bound]] = {}
    others = 0
    for term in terms:
        found = bounds(term) if isinstance(term, Comparison) else []
        if not isinstance(term, Comparison) or not found:
            others += 1
            continue
        if any(not indexed(kind, term) for kind, _ in found):
            others += 1
            continue
        for kind, bound in found:
            groups.setdefault((term.path.attr, value_path(term.path), kind), []).append(bound)
    # a path bounded in two kinds (a number and a string) matches through different rows
    kinds: dict[tuple[str, str], int] = {}
    for attr, path, _ in groups:
        kinds[(attr, path)] = kinds.get((attr, path), 0) + 1
    kept = {g: b for g, b in groups.items() if kinds[(g[0], g[1])] == 1}
    return kept, others + (len(groups) - len(kept))


def bounds(term: Comparison) -> list[tuple[str, Bound]]:
    value = term.value
    if isinstance(value, QValue) and term.op in BOUNDS:
        kind, typed = literal_key(value)
        return [(kind, (BOUNDS[term.op], typed))]
    if isinstance(value, QRange) and term.op == "==":
        kind, low = literal_key(value.low)
        high_kind, high = literal_key(value.high)
        if kind == high_kind:
            return [(kind, (">=", low)), (kind, ("<=", high))]
    return []


def value_path(path: AttrPath) -> str:
    """The index path of a q path: `.sub`-attributes, then `[compound]` members."""
    return "".join(f".{s}" for s in path.sub) + "".join(f"[{k}]" for k in path.compound)
