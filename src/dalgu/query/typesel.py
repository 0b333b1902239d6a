"""Parser of the entity type selection language (clause 4.17): `,` and `|` OR, `;` AND."""

from __future__ import annotations

import re

from dalgu.errors import BadRequestData
from dalgu.query.ast import TypeAnd, TypeExpr, TypeName, TypeOr

_TOKEN = re.compile(r"\s*([(),;|]|[^(),;|\s]+)")


def parse_type_selection(text: str) -> TypeExpr:
    tokens = [(m.group(1), m.start(1)) for m in _TOKEN.finditer(text)]
    position = 0

    def fail(expected: str) -> BadRequestData:
        where = tokens[position][1] if position < len(tokens) else len(text)
        return BadRequestData(f"type: unexpected input at position {where}; expected {expected}")

    def disjunction(depth: int) -> TypeExpr:
        nonlocal position
        if depth > 32:
            raise fail("less nesting")
        terms = [conjunction(depth)]
        while position < len(tokens) and tokens[position][0] in (",", "|"):
            position += 1
            terms.append(conjunction(depth))
        return terms[0] if len(terms) == 1 else TypeOr(tuple(terms))

    def conjunction(depth: int) -> TypeExpr:
        nonlocal position
        terms = [atom(depth)]
        while position < len(tokens) and tokens[position][0] == ";":
            position += 1
            terms.append(atom(depth))
        return terms[0] if len(terms) == 1 else TypeAnd(tuple(terms))

    def atom(depth: int) -> TypeExpr:
        nonlocal position
        if position >= len(tokens):
            raise fail("a type name")
        token = tokens[position][0]
        if token == "(":
            position += 1
            inner = disjunction(depth + 1)
            if position >= len(tokens) or tokens[position][0] != ")":
                raise fail("')'")
            position += 1
            return inner
        if token in ",;|)":
            raise fail("a type name")
        position += 1
        return TypeName(token)

    if len(text) > 8192 or not text.strip():
        raise BadRequestData("type: empty or too long")
    expr = disjunction(0)
    if position != len(tokens):
        raise fail("',', ';', '|' or the end")
    return expr
