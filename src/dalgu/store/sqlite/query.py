"""Translate an `EntityQuery` into one parameterized SQLite statement.

Attribute conditions are correlated EXISTS over the `attrs` table (clustered by entity), so a
query walks entities in id order and stops at `limit`; geo-queries are driven from the R*Tree
(bounding boxes) and confirmed with an exact shapely test (`geo_match`, a registered function).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import shapely

from dalgu.errors import OperationNotSupported
from dalgu.query.ast import (
    And,
    AttrPath,
    Comparison,
    Exists,
    GeoQuery,
    Linked,
    Or,
    QExpr,
    QList,
    QRange,
    QValue,
    ScopeAnd,
    ScopeExpr,
    ScopeOr,
    ScopePattern,
    TypeAnd,
    TypeExpr,
    TypeName,
    TypeOr,
    unresolved,
)
from dalgu.query.order import (
    RANK_ABSENT,
    RANK_BOOLEAN,
    RANK_NULL,
    RANK_NUMBER,
    RANK_OBJECT,
    RANK_STRING,
    ROOT_COLLATION,
    string_rank_sql,
)
from dalgu.query.scope import scope_pattern_regex
from dalgu.store.base import EntityQuery
from dalgu.store.indexing import RELATIONSHIP_TYPES_SQL, relationship_marker, temporal_shape
from dalgu.store.indexing import literal_key as _literal
from dalgu.store.sqlite.collation import ROOT as COLLATE
from dalgu.store.sqlite.geo import search_box
from dalgu.store.sqlite.near import distance_or, geo_test, shape_point
from dalgu.store.sqlite.patterns import matching
from dalgu.store.system_times import datetimes, system_time
from dalgu.store.value_groups import value_path

_SQL_OPS = {"==": "=", "!=": "=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


class Compiled:
    def __init__(self, *, row_types: bool = True, geo_each: bool = False) -> None:
        """`row_types`: test a type on the entity's `type1` column first. A statement that
        reads no entity row nor the key index (a count walking the tenant's id index) is
        cheaper without it: a probe of `entity_types` costs less than reading the row.
        `geo_each`: test a bounded geo-query on each entity's geometries (the plan found
        many in its box), not by every geometry in the box first (`_geo`)."""
        self.params: list[Any] = []
        self.tenant = ""
        self.row_types = row_types
        self.geo_each = geo_each

    def p(self, value: Any) -> str:
        self.params.append(value)
        return "?"


def where_clause(tenant: str, query: EntityQuery, c: Compiled) -> str:
    c.tenant = tenant
    parts = [f"e.tenant = {c.p(tenant)}"]
    if query.ids:
        parts.append(f"e.id IN ({', '.join(c.p(i) for i in query.ids)})")
    if query.id_pattern is not None:
        parts.append(matching(query.id_pattern, "e.id", c.p))
    if query.after is not None:
        parts.append(f"e.id > {c.p(query.after)}")
    if query.types is not None:
        parts.append(_types(query.types, c))
    if query.attrs:
        marks = ", ".join(c.p(a) for a in query.attrs)
        parts.append(
            "EXISTS (SELECT 1 FROM attrs a WHERE a.ent = e.ent AND a.path = '#' "
            f"AND a.name IN ({marks}))"
        )
    if query.q is not None:
        parts.append(_q(query.q, c))
    if query.scope is not None:
        parts.append(_scope(query.scope, c))
    if query.geo is not None:
        parts.append(_geo(query.geo, c))
    return " AND ".join(parts)


def q_clause(tenant: str, q: QExpr, c: Compiled) -> str:
    """The condition of a `q` alone (`where_clause` without it, then this, in text order)."""
    c.tenant = tenant
    return _q(q, c)


def _types(expr: TypeExpr, c: Compiled) -> str:
    if isinstance(expr, TypeName) and not c.row_types:
        return (
            "EXISTS (SELECT 1 FROM entity_types t WHERE t.ent = e.ent "
            f"AND t.tenant = e.tenant AND +t.type = {c.p(expr.name)})"
        )
    if isinstance(expr, TypeName):
        # an entity of one type has it in its row and in the key index (`type1`): no probe
        # of `entity_types` per candidate. One of several types is looked up by entity
        # (`entity_types_ent`: an integer key, then the tenant and type in the index row),
        # not by the primary key's long type IRI first: `+` keeps the planner off the latter
        return (
            f"(e.type1 = {c.p(expr.name)} OR (e.type1 IS NULL AND EXISTS (SELECT 1 FROM "
            "entity_types t WHERE t.ent = e.ent AND t.tenant = e.tenant "
            f"AND +t.type = {c.p(expr.name)})))"
        )
    joiner = " AND " if isinstance(expr, TypeAnd) else " OR "
    assert isinstance(expr, (TypeAnd, TypeOr))
    return "(" + joiner.join(_types(t, c) for t in expr.terms) + ")"


def _q(expr: QExpr, c: Compiled) -> str:
    if isinstance(expr, And):
        return "(" + " AND ".join(_q(t, c) for t in expr.terms) + ")"
    if isinstance(expr, Or):
        return "(" + " OR ".join(_q(t, c) for t in expr.terms) + ")"
    if isinstance(expr, Exists):
        return _exists(expr.path, c)
    if isinstance(expr, Linked):
        raise unresolved(expr)
    return _comparison(expr, c)


def _base_path(path: AttrPath) -> str:
    return "".join(f".{s}" for s in path.sub)


def _exists(path: AttrPath, c: Compiled) -> str:
    member = system_time(path)
    if member is not None:
        return _system_time(path.attr, member, lambda: "IS NOT NULL", c)
    name = c.p(path.attr)
    if path.compound:
        prefix = value_path(path)
        return (
            f"EXISTS (SELECT 1 FROM attrs a WHERE a.ent = e.ent AND a.name = {name} AND "
            f"(a.path = {c.p(prefix)} OR (a.path > {c.p(prefix + '[')} "
            f"AND a.path < {c.p(prefix + chr(0x5C))})))"
        )
    base = _base_path(path)
    marker = base if path.sub and path.sub[-1] in _MEMBER_NAMES else base + "#"
    return (
        f"EXISTS (SELECT 1 FROM attrs a WHERE a.ent = e.ent AND a.name = {name} "
        f"AND a.path = {c.p(marker)})"
    )


_MEMBER_NAMES = frozenset({"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"})


def _match(op: str, value: QValue | QRange | QList, c: Compiled) -> str:
    if isinstance(value, QRange):
        kind, low = _literal(value.low)
        _, high = _literal(value.high)
        col = "a.num" if kind != "s" else "a.txt"
        between = f"a.kind = {c.p(kind)} AND {col} BETWEEN {c.p(low)} AND {c.p(high)}"
        return between + _shaped(value.low, ">=", c)  # placeholders in the text's order
    if isinstance(value, QList):
        # one IN per kind: a linked-entity term's thousands of ids are one test per row,
        # a long list one parameter (SQLite builds its lookup table once per statement)
        by_kind: dict[str, list[Any]] = {}
        for item in value.values:
            kind, typed = _literal(item)
            by_kind.setdefault(kind, []).append(typed)
        alternatives = []
        for kind, typed_values in by_kind.items():
            col = "a.num" if kind != "s" else "a.txt"
            alternatives.append(f"(a.kind = {c.p(kind)} AND {col} IN {_listed(typed_values, c)})")
        return "(" + " OR ".join(alternatives) + ")"
    if op in ("~=", "!~="):
        return f"a.kind = 's' AND {matching(str(value.value), 'a.txt', c.p)}"
    kind, typed = _literal(value)
    col = "a.num" if kind != "s" else "a.txt"
    compared = f"a.kind = {c.p(kind)} AND {col} {_SQL_OPS[op]} {c.p(typed)}"
    return compared + _shaped(value, op, c)  # placeholders in the text's order


def _listed(values: list[Any], c: Compiled) -> str:
    if len(values) <= 16:
        return "(" + ", ".join(c.p(v) for v in dict.fromkeys(values)) + ")"
    return f"(SELECT value FROM json_each({c.p(orjson.dumps(values).decode())}))"


def _shaped(value: QValue, op: str, c: Compiled) -> str:
    """` AND …` the stored text is a value of the literal's temporal type (a Date is not before
    a Time); empty for other literals."""
    shape = temporal_shape(value, op)
    return "" if shape is None else f" AND a.txt GLOB {c.p(shape[0])}"


def _system_time(attr: str, member: str, test: Callable[[], str], c: Compiled) -> str:
    """Some instance of `attr` has the system time `member` and it meets `test()` (SQL after
    the time in its canonical microsecond form), read from the stored document.
    `test` is called after this clause's own placeholder: they go in the text's order."""
    at = c.p(f'$."{attr}"')
    time = f"json_extract(j.value, '$.{member}')"  # Dalgu writes milliseconds: 24 characters
    return (
        f"EXISTS (SELECT 1 FROM json_each(CAST(e.doc AS TEXT), {at}) j WHERE (CASE WHEN "
        f"length({time}) = 24 THEN substr({time}, 1, 23) || '000Z' ELSE {time} END) "
        f"{test()})"
    )


def _system_comparison(expr: Comparison, member: str, c: Compiled) -> str:
    negated = expr.op == "!="
    value = expr.value
    if expr.op in ("~=", "!~=") or not datetimes(value):
        # a DateTime equals no other kind; `!=` holds where the time is
        return _exists(expr.path, c) if negated else "0"

    def test() -> str:
        if isinstance(value, QRange):
            low, high = _literal(value.low)[1], _literal(value.high)[1]
            return f"BETWEEN {c.p(low)} AND {c.p(high)}"
        if isinstance(value, QList):
            return "IN (" + ", ".join(c.p(_literal(v)[1]) for v in value.values) + ")"
        op = "==" if negated else expr.op
        return f"{_SQL_OPS[op]} {c.p(_literal(value)[1])}"

    if negated:
        present = _exists(expr.path, c)  # first: its placeholder comes first in the text
        return f"({present} AND NOT {_system_time(expr.path.attr, member, test, c)})"
    return _system_time(expr.path.attr, member, test, c)


def _comparison(expr: Comparison, c: Compiled) -> str:
    """Placeholders are appended in the order they appear in the SQL text."""
    member = system_time(expr.path)
    if member is not None:
        return _system_comparison(expr, member, c)
    path = value_path(expr.path)
    attr = expr.path.attr
    # `!=` holds where the target element is (whatever its value: a JSON object, an empty
    # array) and no value there matches (clause 4.9: values of different data types are
    # unequal); the element's leaves alone missed an object's. `!~=` holds where it has
    # strings and none matches: a value of another type is "not matching" (clause 4.9)
    if expr.op == "!=":
        present = f"{_exists(expr.path, c)} AND NOT "
    elif expr.op == "!~=":
        present = _rows(attr, path, lambda: "a.kind = 's'", c) + " AND NOT "
    else:
        present = ""
    op = {"!=": "==", "!~=": "~="}.get(expr.op, expr.op)
    test = present + _rows(attr, path, lambda: _match(op, expr.value, c), c)
    marker = relationship_marker(expr)
    if marker is not None:  # clause 4.9: a Relationship takes `==` and `!=` only
        related = f"a.kind = '#' AND a.txt IN {RELATIONSHIP_TYPES_SQL}"
        test += " AND NOT " + _rows(attr, marker, lambda: related, c)
    return f"({test})" if present or marker is not None else test


def _rows(attr: str, path: str, condition: Callable[[], str], c: Compiled) -> str:
    """Some row of `attr` at `path` meets `condition()` (called after this clause's own
    placeholders: they go in the text's order)."""
    return (
        f"EXISTS (SELECT 1 FROM attrs a WHERE a.ent = e.ent AND a.name = {c.p(attr)} "
        f"AND a.path = {c.p(path)} AND {condition()})"
    )


def _scope(expr: ScopeExpr, c: Compiled) -> str:
    if isinstance(expr, ScopePattern):
        return (
            "EXISTS (SELECT 1 FROM entity_scopes s WHERE s.ent = e.ent AND "
            f"regexp({c.p(scope_pattern_regex(expr))}, s.scope))"
        )
    joiner = " AND " if isinstance(expr, ScopeAnd) else " OR "
    assert isinstance(expr, (ScopeAnd, ScopeOr))
    return "(" + joiner.join(_scope(t, c) for t in expr.terms) + ")"


def _geo(geo: GeoQuery, c: Compiled) -> str:
    """Driven from the R*Tree when the predicate bounds the result, else tested per entity.

    Placeholders are appended in the order they appear in the SQL text. The tenant goes in as
    a parameter, not `e.tenant`: that keeps the R*Tree subquery uncorrelated, so SQLite runs
    it once per query rather than once per entity.
    """
    box = search_box(geo)
    if box is None:
        name = c.p(geo.geoproperty)
        test = geo_test(geo, c.p)
        return f"EXISTS (SELECT 1 FROM geo g WHERE g.ent = e.ent AND g.name = {name} AND {test})"
    minx, miny, maxx, maxy = box
    if c.geo_each:
        # the entity's geometries, each by its box in the R*Tree (a lookup by `gid`: CROSS
        # JOIN keeps SQLite from searching the R*Tree by the box for each entity) and then
        # exactly; the walk stops at the page's end
        name = c.p(geo.geoproperty)
        bounds = (
            f"r.minx <= {c.p(maxx)} AND r.maxx >= {c.p(minx)} "
            f"AND r.miny <= {c.p(maxy)} AND r.maxy >= {c.p(miny)}"
        )
        test = geo_test(geo, c.p, rtree="r")
        return (
            "EXISTS (SELECT 1 FROM geo g CROSS JOIN geo_rtree r ON r.gid = g.gid "
            f"WHERE g.ent = e.ent AND g.name = {name} AND {bounds} AND {test})"
        )
    bounds = (
        f"r.minx <= {c.p(maxx)} AND r.maxx >= {c.p(minx)} "
        f"AND r.miny <= {c.p(maxy)} AND r.maxy >= {c.p(miny)}"
    )
    tenant = c.p(c.tenant)
    name = c.p(geo.geoproperty)
    test = geo_test(geo, c.p)
    return (
        "e.ent IN (SELECT g.ent FROM geo_rtree r JOIN geo g ON g.gid = r.gid "
        f"WHERE {bounds} AND g.tenant = {tenant} AND g.name = {name} AND {test})"
    )


# --- orderBy (clause 4.23) -------------------------------------------------------------------

DOC_MEMBERS = ("createdAt", "modifiedAt")  # not in the index: read from the document


def _rank(text: str) -> str:
    """The datatype rank of one index row (clause 4.23.2)."""
    strings = string_rank_sql(
        text,
        lambda pattern, value: f"regexp('{pattern}', {value})",
        lambda pattern, value: f"{value} GLOB '{pattern}'",
    )
    # a value's string with a collation prefix is a plain one (`collation_prefix.string_prefix`):
    # no pattern to test
    return (
        f"CASE a.kind WHEN 'n' THEN {RANK_NUMBER} WHEN 'b' THEN {RANK_BOOLEAN} "
        f"WHEN 's' THEN CASE WHEN a.num IS NOT NULL THEN {RANK_STRING} ELSE {strings} END "
        f"ELSE {RANK_NULL} END"
    )


def order_clause(query: EntityQuery, c: Compiled) -> str:
    """ORDER BY for `query.order`, ending with the entity id (a stable page order).

    Within a term: the datatype rank first, then numbers and booleans, then strings; a missing
    value sorts last in either direction. Parameters are bound in the order their placeholders
    appear, so each expression that is written twice is built twice.
    """
    if query.collation != ROOT_COLLATION:
        raise OperationNotSupported(
            f"collation {query.collation}: this store orders strings by the ICU root "
            "collation (und) only; the PostgreSQL store has every ICU collation"
        )
    parts: list[str] = []
    for term in query.order:
        pick = "max" if term.descending else "min"
        way = "DESC" if term.descending else "ASC"
        if term.entity_member and term.attribute == "id":
            # never missing, unique: the page walks the id index (either way) and stops
            parts.append(f"e.id {way}")
            continue
        if term.entity_member:

            def value(name: str = term.attribute, pick: str = pick) -> str:
                return _entity_member(name, pick)

            parts += [f"({value()} IS NULL)", f"{value()} {way}"]
            continue
        if term.by_distance:
            if query.order_from is None:
                continue
            wkb = shapely.to_wkb(query.order_from)
            point = shape_point(query.order_from)

            def distance(
                wkb: bytes = wkb,
                name: str = term.attribute,
                point: tuple[float, float] | None = point,
            ) -> str:
                def call() -> str:
                    return f"geo_distance({c.p(wkb)}, g.geometry)"

                metres = distance_or(point, c.p, call)
                where = f"g.ent = e.ent AND g.name = {c.p(name)}"
                return f"(SELECT min({metres}) FROM geo g WHERE {where})"

            parts += [f"({distance()} IS NULL)", f"{distance()} {way}"]
            continue
        if len(term.members) == 1 and term.members[0] in DOC_MEMBERS:
            json_path = f'$."{term.attribute}"[0].{term.members[0]}'

            def member(json_path: str = json_path) -> str:
                return f"json_extract(CAST(e.doc AS TEXT), {c.p(json_path)})"

            parts += [f"({member()} IS NULL)", f"{member()} {way}"]
            continue

        def rows(name: str = term.attribute, path: str = term.path) -> str:
            return (
                f"FROM attrs a WHERE a.ent = e.ent "
                f"AND a.name = {c.p(name)} AND a.path = {c.p(path)}"
            )

        rank = f"(SELECT min({_rank('a.txt')}) {rows()})"
        if term.marker_path is not None:  # the attribute is there, its value an object
            marker = rows(term.attribute, term.marker_path)
            rank = f"coalesce({rank}, (SELECT {RANK_OBJECT} {marker} LIMIT 1), {RANK_ABSENT})"
        else:
            rank = f"coalesce({rank}, {RANK_ABSENT})"
        parts.append(rank)
        parts.append(f"(SELECT {pick}(a.num) {rows()} AND a.kind IN ('n', 'b')) {way}")
        text = f"(SELECT {pick}(a.txt COLLATE {COLLATE}) {rows()} AND a.kind = 's')"
        parts.append(f"{text} COLLATE {COLLATE} {way}")
    if not any(t.entity_member and t.attribute == "id" for t in query.order):
        parts.append("e.id")
    return ", ".join(parts)


def _entity_member(name: str, pick: str) -> str:
    if name == "id":
        return "e.id"
    if name == "type":
        return f"(SELECT {pick}(t.type) FROM entity_types t WHERE t.ent = e.ent)"
    if name == "scope":
        return f"(SELECT {pick}(s.scope) FROM entity_scopes s WHERE s.ent = e.ent)"
    return f"json_extract(CAST(e.doc AS TEXT), '$.{name}')"
