"""scopeQ (ETSI GS CIM 009 V1.9.1 clause 4.19) and scope values (clause 4.18).

`/a/b` a scope, `/a/+/c` one level of anything, `/a/#` a scope and everything below it, `/#` any
scope; `;` (AND) binds tighter than `|` or `,` (OR), and parentheses group. Beyond the ABNF,
which allows AND only inside parentheses, `;` may appear anywhere (as in q), parentheses nest,
and whitespace between tokens is ignored.

A scope level is a letter followed by letters, digits and `_` in the ABNF; Dalgu also accepts
`-` after the first character and a digit or `_` first (`/Daegu/Suseong-gu`, `/Floor/3`).
Clause 4.18 makes the leading `/` optional (`Madrid` is the scope `/Madrid`): values and
patterns without it are read as if it were there (clause 4.19 EXAMPLE 5 writes `CompanyB`),
and `validate_scope` returns every scope in its `/` form, the one the stores index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lark import Token

from dalgu.errors import BadRequestData
from dalgu.query.ast import ScopeAnd, ScopeExpr, ScopeOr, ScopePattern
from dalgu.query.q import Logic, Node, build_parser, cached_parse

NULL_SCOPE = "urn:ngsi-ld:null"
_LEVEL = r"\w[\w\-]*"
_SCOPE = re.compile(rf"/?{_LEVEL}(?:/{_LEVEL})*")

_GRAMMAR = rf"""
start: disjunction
disjunction: conjunction                           -> first_or
           | disjunction (_OR | _COMMA) conjunction -> more_or
conjunction: atom                                  -> first_and
           | conjunction _AND atom                 -> more_and
?atom: SCOPE                                       -> pattern
     | LPAR disjunction _RPAR                      -> group
SCOPE: /\/#|\/?(?:{_LEVEL}|\+)(?:\/(?:{_LEVEL}|\+))*(?:\/#)?/
LPAR: "("
_RPAR: ")"
_AND: ";"
_OR: "|"
_COMMA: ","
%ignore /\s+/
"""
_PHRASES = {
    "SCOPE": "a scope (/a/b, /a/+/c, /a/#)",
    "LPAR": "'('",
    "_AND": "';'",
    "_OR": "'|'",
    "_COMMA": "','",
    "_RPAR": "')'",
    "$END": "the end",
}


class _ToScope(Logic):
    language = "scopeQ"
    AND = ScopeAnd
    OR = ScopeOr

    def pattern(self, children: list[Token]) -> Node:
        text = str(children[0])
        return Node(ScopePattern(tuple(text.removeprefix("/").split("/"))))


_PARSER = build_parser(_GRAMMAR, _ToScope(), _PHRASES)
_parse = cached_parse(_PARSER, "scopeQ", _PHRASES)


def parse_scope_query(text: str) -> ScopeExpr:
    """Parse a scopeQ expression; raise `BadRequestData` naming the offending position."""
    expr: ScopeExpr = _parse(text)
    return expr


def validate_scope(scope: str) -> str:
    """A scope value written on an entity, in its `/` form; `BadRequestData` if it is not one.

    The NGSI-LD Null (`urn:ngsi-ld:null`) deletes scopes and is not a scope: the caller handles
    it before asking for validation.
    """
    if not isinstance(scope, str) or len(scope) > 1024 or not _SCOPE.fullmatch(scope):
        hint = " (it deletes the scope)" if scope == NULL_SCOPE else ""
        raise BadRequestData(
            f"scope: {scope!r} is not a scope{hint}; expected levels such as /Daegu/Jung-gu"
        )
    return scope if scope.startswith("/") else "/" + scope


def scope_pattern_regex(pattern: ScopePattern) -> str:
    """A regular expression that PostgreSQL (`~`) and Python (`re.fullmatch`) read alike.

    Only ERE syntax is used; a level's punctuation (at most `-`) is escaped with a backslash,
    which both engines read as the character itself.
    """
    if pattern.segments == ("#",):
        return "^/.+$"
    parts: list[str] = []
    for segment in pattern.segments:
        if segment == "#":
            return "^" + "".join(parts) + "(/.*)?$"
        parts.append("/[^/]+" if segment == "+" else "/" + re.escape(segment))
    return "^" + "".join(parts) + "$"


def _pattern_matches(segments: tuple[str, ...], scope: str) -> bool:
    if not scope.startswith("/"):
        return False
    levels = scope[1:].split("/")
    if segments == ("#",):
        return bool(scope[1:])
    for index, segment in enumerate(segments):
        if segment == "#":
            return True
        if index >= len(levels) or (segment != "+" and segment != levels[index]):
            return False
        if segment == "+" and not levels[index]:
            return False
    return len(levels) == len(segments)


def scope_matches(expr: ScopeExpr, scopes: Sequence[str] | str) -> bool:
    """Whether an entity with these scopes (one string or a list) is selected by `expr`."""
    values: Sequence[Any] = [scopes] if isinstance(scopes, str) else scopes
    if isinstance(expr, ScopePattern):
        return any(isinstance(s, str) and _pattern_matches(expr.segments, s) for s in values)
    if isinstance(expr, ScopeAnd):
        return all(scope_matches(t, values) for t in expr.terms)
    return any(scope_matches(t, values) for t in expr.terms)
