"""`q` over attribute instances (clause 4.9 on the temporal history), for both SQL stores.

An entity matches a comparison when one of its instances of that attribute inside the query's
time interval holds a matching value: numbers in `num`, other values in `txt` (strings as they
are, booleans as `true`/`false`). Only whole attribute values are searched here; a path into a
sub-attribute or a compound value is refused with OperationNotSupported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from dalgu.errors import OperationNotSupported
from dalgu.query.ast import And, Comparison, Exists, Or, QExpr, QList, QRange, QValue

_SQL_OPS = {"==": "=", "!=": "=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


class Params(Protocol):
    def p(self, value: Any) -> str: ...


#: SQL selecting the entity's instances in the interval (alias `x`), appending its parameters
Scope = Callable[[Params], str]
#: SQL testing text `column` against a regular expression placeholder
Regex = Callable[[str, str], str]


def q_sql(expr: QExpr, c: Params, scope: Scope, regex: Regex) -> str:
    if isinstance(expr, (And, Or)):
        joiner = " AND " if isinstance(expr, And) else " OR "
        return "(" + joiner.join(q_sql(t, c, scope, regex) for t in expr.terms) + ")"
    path = expr.path
    if path.sub or path.compound:
        raise OperationNotSupported(
            "q on the temporal history compares whole attribute values; sub-attributes and "
            "compound members are not searched there"
        )

    def has(test: Callable[[], str]) -> str:
        # placeholders in the order of the text (SQLite's are positional)
        inner = scope(c)
        name = c.p(path.attr)
        return f"EXISTS ({inner} AND x.name = {name} AND x.deleted_at IS NULL{test()})"

    if isinstance(expr, Exists):
        return has(lambda: "")
    assert isinstance(expr, Comparison)
    negated = expr.op in ("!=", "!~=")
    op = {"!=": "==", "!~=": "~="}.get(expr.op, expr.op)
    if negated:
        # present, and no instance in the interval matches
        present = has(lambda: "")
        return f"({present} AND NOT {_match(op, expr.value, has, c, regex)})"
    return _match(op, expr.value, has, c, regex)


def _match(
    op: str,
    value: QValue | QRange | QList,
    has: Callable[[Callable[[], str]], str],
    c: Params,
    regex: Regex,
) -> str:
    if op == "~=":
        assert isinstance(value, QValue)
        pattern = str(value.value)
        return has(lambda: f" AND {regex('x.txt', c.p(pattern))}")
    if isinstance(value, QList):
        return "(" + " OR ".join(_match("==", v, has, c, regex) for v in value.values) + ")"
    if isinstance(value, QRange):
        low_column, low = _typed(value.low)
        high_column, high = _typed(value.high)
        if low_column != high_column:
            return "(1 = 0)"
        return has(lambda: f" AND x.{low_column} >= {c.p(low)} AND x.{high_column} <= {c.p(high)}")
    column, typed = _typed(value)
    return has(lambda: f" AND x.{column} {_SQL_OPS[op]} {c.p(typed)}")


def _typed(value: QValue) -> tuple[str, Any]:
    if value.kind == "number":
        return "num", float(value.value)
    if value.kind == "boolean":
        return "txt", "true" if value.value else "false"
    return "txt", str(value.value)
