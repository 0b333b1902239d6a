"""Query parameters of the entity endpoints (clause 6.4.3.2, 6.5.3.1) into typed requests."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dalgu.broker.join import MAX_JOIN_LEVEL, Join
from dalgu.broker.model import is_uri, is_valid_name
from dalgu.broker.render import Format, ProjectionTree, Representation, project
from dalgu.errors import BadRequestData, InvalidRequest, TooComplexQuery, TooManyResults
from dalgu.ldcontext import TermMap
from dalgu.query.ast import QExpr, expand_values, linked_depth, map_names, map_type_names
from dalgu.query.geo import parse_geoquery
from dalgu.query.order import parse_ordering
from dalgu.query.q import parse_q
from dalgu.query.regex import compile_pattern
from dalgu.query.scope import parse_scope_query
from dalgu.query.typesel import every_type, parse_type_selection
from dalgu.settings import Settings
from dalgu.store.base import EntityQuery

_FORMATS: dict[str, Format] = {
    "normalized": "normalized",
    "concise": "concise",
    "keyValues": "keyValues",
    "simplified": "keyValues",
}
_OPTIONS = {
    "keyValues",
    "simplified",
    "concise",
    "normalized",
    "sysAttrs",
    "noOverwrite",
    "replace",
    "update",
    "count",
}


def options(params: Mapping[str, str]) -> set[str]:
    raw = params.get("options", "")
    values = {o.strip() for o in raw.split(",") if o.strip()}
    unknown = values - _OPTIONS
    if unknown:
        raise InvalidRequest(f"unknown options: {', '.join(sorted(unknown))}")
    return values


#: Merge Entity's options (Table 6.5.3.4-1): the simplified format's alternative spelling only
_MERGE_OPTIONS = {"keyValues", "simplified"}


def merge_simplified(params: Mapping[str, str]) -> bool:
    """Whether a Merge Entity body is in the simplified representation (table 6.5.3.4-1):
    `format` simplified (or keyValues), else `options` naming one of them; `format` takes
    precedence. A merge always overwrites: clause 5.6.17.3 gives it no overwrite flag, so
    `noOverwrite` is refused with the other unknown options, not ignored."""
    raw = params.get("options", "")
    given = {o.strip() for o in raw.split(",") if o.strip()}
    unknown = given - _MERGE_OPTIONS
    if unknown:
        raise InvalidRequest(
            f"unknown options for Merge Entity: {', '.join(sorted(unknown))} (it takes "
            "simplified or keyValues, Table 6.5.3.4-1; a merge always overwrites)"
        )
    fmt = params.get("format")
    if fmt is not None:
        if fmt not in _FORMATS:
            raise InvalidRequest(f"unknown format {fmt!r}")
        return _FORMATS[fmt] == "keyValues"
    return bool(given)


def names(params: Mapping[str, str], key: str) -> list[str]:
    raw = params.get(key)
    if raw is None:
        return []
    values = [v.strip() for v in raw.split(",")]
    if not all(values):
        raise BadRequestData(f"{key} has an empty name")
    if key == "id":
        bad = [v for v in values if not is_uri(v)]
        if bad:
            raise BadRequestData(f"id: {bad[0]!r} is not a URI")
    elif not all(is_valid_name(v) for v in values):
        raise BadRequestData(f"{key} has an invalid name")
    return values


#: a name of the projection language: clause 4.9's AttrName (Unicode letters: `이름`, `städte`),
#: or a compact or full IRI
_PROJECTION = re.compile(r"[\w@][\w:/.#@\-]*")


def projection(params: Mapping[str, str], key: str) -> list[str]:
    """Top-level names of a pick/omit expression (clause 4.21: `a,b{c,d}`), checked whole."""
    return list(projection_tree(params, key))


def projection_tree(params: Mapping[str, str], key: str) -> ProjectionTree:
    """A pick/omit expression as a tree: name → the projection of its linked entity (or None).

    `id,locatedAt{id,name,isInCountry{description}}` →
    `{"id": None, "locatedAt": {"id": None, "name": None, "isInCountry": {"description": None}}}`
    """
    raw = params.get(key)
    if raw is None:
        return {}
    root: ProjectionTree = {}
    stack: list[ProjectionTree] = [root]
    last: str | None = None
    pos, expect_name = 0, True
    while pos < len(raw):
        if expect_name:
            match = _PROJECTION.match(raw, pos)
            if match is None:
                raise BadRequestData(f"{key}: expected an attribute name at position {pos}")
            last = match.group()
            stack[-1][last] = None
            pos, expect_name = match.end(), False
            continue
        char = raw[pos]
        if char == "{" and last is not None and stack[-1][last] is None:
            child: ProjectionTree = {}
            stack[-1][last] = child
            stack.append(child)
            expect_name = True
        elif char == "}" and len(stack) > 1:
            stack.pop()
            last = None
        elif char in ",|":
            expect_name = True
        else:
            raise BadRequestData(f"{key}: unexpected {char!r} at position {pos}")
        pos += 1
    if len(stack) > 1 or expect_name:
        raise BadRequestData(f"{key}: the expression is incomplete (unclosed brace or comma)")
    return root


DEFAULT_REPRESENTATION = Representation()

#: names an `attrs` list may hold that are not attributes (they do not narrow a query)
NON_ATTRIBUTES = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt"})


def representation(params: Mapping[str, str], terms: TermMap) -> Representation:
    if not params:
        return DEFAULT_REPRESENTATION
    opts = options(params)
    chosen: list[str] = [
        f for f in ("keyValues", "simplified", "concise", "normalized") if f in opts
    ]
    fmt = params.get("format")
    if fmt is not None:  # format takes precedence over options (clause 6.3.20)
        if fmt not in _FORMATS:
            raise InvalidRequest(f"unknown format {fmt!r}")
        chosen = [_FORMATS[fmt]]
    if len({_FORMATS[f] for f in chosen}) > 1:
        raise BadRequestData("conflicting representation formats requested")
    attrs = names(params, "attrs")
    pick = projection_tree(params, "pick")
    omit = projection_tree(params, "omit")
    if pick and omit:
        raise BadRequestData("pick and omit cannot be used together")
    if attrs and (pick or omit):
        raise BadRequestData("attrs cannot be combined with pick or omit")
    base = Representation(
        format=_FORMATS[chosen[0]] if chosen else "normalized",
        sys_attrs="sysAttrs" in opts,
        lang=params.get("lang"),
        datasets=_datasets(params),
    )
    return project(base, terms, attrs=attrs, pick=pick or None, omit=omit or None)


def _datasets(params: Mapping[str, str]) -> frozenset[str] | None:
    """The datasetId parameter (clause 6.3.x): instances to keep, `@none` for the default one."""
    raw = params.get("datasetId")
    if raw is None:
        return None
    values = [v.strip() for v in raw.split(",")]
    if not all(v == "@none" or is_uri(v) for v in values):
        raise BadRequestData("datasetId must list URIs (or @none for the default instance)")
    return frozenset(values)


#: the largest integer a query parameter takes: both stores count in 64-bit integers, and a
#: page's end (offset + limit) must still be one
LARGEST_INTEGER = 2**62


def page(params: Mapping[str, str], settings: Settings) -> tuple[int, int]:
    # any limit past the largest page is TooManyResults, however large (a limit past 2^62 was
    # a 400 naming 2^62 as its bound, where 5,000 named the page size)
    limit = _integer(params, "limit", settings.default_page_size, largest=None)
    offset = _integer(params, "offset", 0)
    if limit > settings.max_page_size:
        raise TooManyResults(
            f"limit {limit} is above the maximum page size {settings.max_page_size}"
        )
    return limit, offset


def _integer(
    params: Mapping[str, str], key: str, default: int, *, largest: int | None = LARGEST_INTEGER
) -> int:
    raw = params.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestData(f"{key} must be a non-negative integer") from None
    if value < 0:
        raise BadRequestData(f"{key} must be a non-negative integer")
    if largest is not None and value > largest:
        raise BadRequestData(f"{key} must be at most {largest}")
    return value


def wants_count(params: Mapping[str, str]) -> bool:
    """`count=true`, or `options=count` as clients of earlier NGSI-LD versions ask for it."""
    raw = params.get("options", "")
    return flag(params, "count") or "count" in (o.strip() for o in raw.split(","))


def local(params: Mapping[str, str]) -> bool:
    """`local=true`, or implied by `type=*` (Table 6.4.3.2-1): no context source is asked."""
    return flag(params, "local") or every_type(params.get("type"), params.get("local"))


def flag(params: Mapping[str, str], key: str) -> bool:
    raw = params.get(key)
    if raw is None:
        return False
    value = raw.lower()  # "True" too: some clients (Robot's ${True}) capitalise booleans
    if value not in ("true", "false"):
        raise BadRequestData(f"{key} must be true or false")
    return value == "true"


def entity_query(
    params: Mapping[str, Any], terms: TermMap, settings: Settings, *, require_filter: bool = True
) -> EntityQuery:
    """An EntityQuery from GET /entities parameters (or a POST Query body mapped alike)."""
    ids = tuple(names(params, "id"))
    id_pattern = params.get("idPattern")
    type_text = params.get("type")
    attrs = names(params, "attrs")
    q_text = params.get("q")
    georel = params.get("georel")
    scope_text = params.get("scopeQ")
    if require_filter and not (
        type_text
        or any(a not in NON_ATTRIBUTES for a in attrs)
        or q_text
        or georel
        or flag(params, "local")
    ):
        raise BadRequestData(
            "too wide a query: give at least one of type, attrs (naming an attribute), q, "
            "geoQ or local=true (clause 5.7.2.4)"
        )
    types = None
    if type_text and not every_type(type_text, params.get("local")):
        types = map_type_names(parse_type_selection(type_text), terms.expand)
    q = map_names(parse_q(q_text), terms.expand) if q_text else None
    expanded = frozenset(terms.expand(n) for n in names(params, "expandValues"))
    if q is not None and expanded:
        q = expand_values(q, expanded, terms.expand)
    geo = None
    if georel is not None or params.get("geometry") is not None:
        if georel is None or params.get("geometry") is None or params.get("coordinates") is None:
            raise BadRequestData("a geo-query needs georel, geometry and coordinates")
        geo = parse_geoquery(
            georel, params["geometry"], params["coordinates"], params.get("geoproperty")
        )
        geo = _expand_geoproperty(geo, terms)
    if id_pattern is not None:
        _check_regex(id_pattern)
    limit, offset = page(params, settings)
    ordering = parse_ordering(params, terms.expand)
    return EntityQuery(
        order=ordering.order,
        order_from=ordering.order_from,
        collation=ordering.collation,
        ids=ids,
        id_pattern=id_pattern,
        types=types,
        attrs=tuple(terms.expand(a) for a in attrs if a not in NON_ATTRIBUTES),
        q=q,
        geo=geo,
        scope=parse_scope_query(scope_text) if scope_text else None,
        limit=limit,
        offset=offset,
        count=wants_count(params),
    )


def _expand_geoproperty(geo: Any, terms: TermMap) -> Any:
    from dataclasses import replace

    return replace(geo, geoproperty=terms.expand(geo.geoproperty or "location"))


def _check_regex(pattern: str) -> None:
    compile_pattern(pattern, "idPattern")


def join(params: Mapping[str, Any], rep: Representation, q: QExpr | None = None) -> Join | None:
    """`join`, `joinLevel` and `containedBy` (clause 4.5.23, table 6.5.3.1-1), checked against
    a pick or omit that reaches into linked entities (clause 5.7.1.4) and against a query `q`
    whose terms do (clause 5.7.2.4: "too deep query")."""
    mode = params.get("join")
    depth = 0 if q is None else linked_depth(q)
    if mode is None or mode == "@none":
        if rep.reach:
            raise BadRequestData("a pick or omit into linked entities needs join=inline or flat")
        if depth:
            raise BadRequestData(
                "too deep query: a q into linked entities (rel{attr}) needs join=inline or flat"
            )
        return None
    if mode not in ("inline", "flat"):
        raise BadRequestData("join is inline, flat or @none")
    level = _integer(params, "joinLevel", 1)
    if level < 1:
        raise BadRequestData("joinLevel is a positive integer")
    if level > MAX_JOIN_LEVEL:
        raise TooComplexQuery(
            f"joinLevel {level} is deeper than this broker follows, {MAX_JOIN_LEVEL}"
        )
    if rep.reach > level:
        raise BadRequestData(
            f"the projection reaches {rep.reach} levels of linked entities; joinLevel is {level}"
        )
    if depth > level:
        raise BadRequestData(
            f"too deep query: q follows {depth} levels of linked entities; joinLevel is {level}"
        )
    contained_by = names(params, "containedBy")
    if not all(is_uri(i) for i in contained_by):
        raise BadRequestData("containedBy lists entity ids, which are URIs")
    return Join(mode, level, frozenset(contained_by))
