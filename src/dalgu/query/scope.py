"""scopeQ (clause 4.19): `/a/b`, `/a/+/c`, `/a/#`, combined with `;` (AND) and `,`/`|` (OR)."""

from __future__ import annotations

import re

from dalgu.errors import BadRequestData
from dalgu.query.ast import ScopeAnd, ScopeExpr, ScopeOr, ScopePattern

_SEGMENT = re.compile(r"^[A-Za-z0-9_\-]+$")


def validate_scope(scope: str) -> str:
    """A scope value written on an entity: `/` then segments, no wildcards."""
    segments = scope.split("/")
    if not scope.startswith("/") or not all(_SEGMENT.match(s) for s in segments[1:]):
        raise BadRequestData(f"invalid scope {scope!r}")
    return scope


def _pattern(text: str) -> ScopePattern:
    if text == "/#":
        return ScopePattern(("#",))
    if not text.startswith("/"):
        raise BadRequestData(f"scopeQ: {text!r} must start with '/'")
    segments = tuple(text[1:].split("/"))
    for index, segment in enumerate(segments):
        if segment == "#" and index == len(segments) - 1:
            continue
        if segment != "+" and not _SEGMENT.match(segment):
            raise BadRequestData(f"scopeQ: invalid segment {segment!r} in {text!r}")
    return ScopePattern(segments)


def parse_scope_query(text: str) -> ScopeExpr:
    if not text or len(text) > 4096:
        raise BadRequestData("scopeQ: empty or too long")
    text = text.replace("(", "").replace(")", "")
    alternatives: list[ScopeExpr] = []
    for alternative in re.split(r"[,|]", text):
        parts = [_pattern(p.strip()) for p in alternative.split(";")]
        alternatives.append(parts[0] if len(parts) == 1 else ScopeAnd(tuple(parts)))
    return alternatives[0] if len(alternatives) == 1 else ScopeOr(tuple(alternatives))


def scope_pattern_regex(pattern: ScopePattern) -> str:
    parts: list[str] = []
    for segment in pattern.segments:
        if segment == "#":
            return "^" + "".join(parts) + "(/.*)?$" if parts else "^/.*$"
        parts.append("/[^/]+" if segment == "+" else "/" + re.escape(segment))
    return "^" + "".join(parts) + "$"


def scope_matches(expr: ScopeExpr, scopes: list[str]) -> bool:
    if isinstance(expr, ScopePattern):
        regex = re.compile(scope_pattern_regex(expr))
        return any(regex.match(s) for s in scopes)
    if isinstance(expr, ScopeAnd):
        return all(scope_matches(t, scopes) for t in expr.terms)
    return any(scope_matches(t, scopes) for t in expr.terms)
