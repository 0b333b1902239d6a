"""The text of a `q` expression (clause 4.9) and of an entity type selection (clause 4.17)
from their trees: what `query.q.parse_q` and `query.typesel.parse_type_selection` read back
as the same tree. A forwarded query whose names were changed is sent in this form."""

from __future__ import annotations

import orjson

from dalgu.query.ast import (
    And,
    AttrPath,
    Comparison,
    Exists,
    Linked,
    Or,
    QExpr,
    QList,
    QRange,
    QValue,
    TypeAnd,
    TypeExpr,
    TypeName,
)


def q_text(expr: QExpr) -> str:
    if isinstance(expr, And):
        return ";".join(_grouped(t) for t in expr.terms)
    if isinstance(expr, Or):
        return "|".join(_grouped(t) for t in expr.terms)
    opened, closed = "", ""
    while isinstance(expr, Linked):  # `rel{Type:inner}`: the operator follows every `}`
        hint = ",".join(expr.types) + ":" if expr.types else ""
        opened, closed = f"{opened}{expr.relationship}{{{hint}", closed + "}"
        expr = expr.term
    if isinstance(expr, And | Or):
        raise ValueError("a linked-entity term holds one term")
    if isinstance(expr, Exists):
        return opened + _path(expr.path) + closed
    pattern = expr.op in ("~=", "!~=")
    return opened + _path(expr.path) + closed + expr.op + _operand(expr, pattern)


def _grouped(expr: QExpr) -> str:
    return f"({q_text(expr)})" if isinstance(expr, And | Or) else q_text(expr)


def _path(path: AttrPath) -> str:
    text = ".".join((path.attr, *path.sub))
    return text + "".join(f"[{member}]" for member in path.compound)


def _operand(expr: Comparison, pattern: bool) -> str:
    value = expr.value
    if isinstance(value, QRange):
        return f"{_value(value.low)}..{_value(value.high)}"
    if isinstance(value, QList):
        return ",".join(_value(v) for v in value.values)
    if pattern:  # a quoted pattern: only `\"` is an escape there
        return '"' + str(value.value).replace('"', '\\"') + '"'
    return _value(value)


def _value(value: QValue) -> str:
    if value.kind == "string":
        return orjson.dumps(value.value).decode()
    if value.kind == "boolean":
        return "true" if value.value else "false"
    return str(value.value)


def type_text(expr: TypeExpr) -> str:
    if isinstance(expr, TypeName):
        return expr.name
    if isinstance(expr, TypeAnd):
        return "(" + ";".join(type_text(t) for t in expr.terms) + ")"
    return "|".join(type_text(t) for t in expr.terms)
