"""Translate an `EntityQuery` into one parameterized PostgreSQL statement.

Every user value travels as a `$n` parameter; the SQL text holds only names of this module.
Attribute conditions are correlated `EXISTS` over `attr_num` / `attr_txt`. At the top level
PostgreSQL turns them into semi-joins and picks, by cost, between walking entities in id order
(probing the `(ent, nid)` indexes, stopping at `limit`) and driving from the value indexes;
under `OR` it can hash them. Attribute names and paths are resolved to `attr_keys.nid` before
compiling, so the statement carries integer keys and an unknown attribute compiles to `FALSE`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import shapely

from dalgu.broker.model import is_datetime
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
    TypeAnd,
    TypeExpr,
    TypeName,
    unresolved,
)
from dalgu.query.order import (
    RANK_ABSENT,
    RANK_BOOLEAN,
    RANK_NULL,
    RANK_NUMBER,
    RANK_OBJECT,
    OrderTerm,
    string_rank_sql,
)
from dalgu.query.regex_syntax import postgres_pattern
from dalgu.query.scope import scope_pattern_regex
from dalgu.store.base import EntityQuery
from dalgu.store.indexing import (
    RELATIONSHIP_TYPES_SQL,
    canonical_datetime,
    relationship_marker,
    temporal_shape,
)
from dalgu.store.postgres.near import near_test
from dalgu.store.system_times import datetimes, system_time
from dalgu.store.value_groups import value_path

PREFIX = 256  # characters of a string value in the `attr_txt_value` index
_SQL_OPS = {"==": "=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
# Members of an attribute instance indexed as leaves (the path names the member, no marker).
_MEMBER_NAMES = frozenset({"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"})
NUM = "attr_num"  # numbers, booleans (0/1) and nulls
TXT = "attr_txt"  # strings, and instance markers (kind '#', txt = the attribute type)
_GEO_FUNCTIONS = {
    "within": "ST_Within",
    "contains": "ST_Contains",
    "intersects": "ST_Intersects",
    "equals": "ST_Equals",
    "disjoint": "ST_Disjoint",
    "overlaps": "ST_Overlaps",
}


@dataclass
class KeyNeeds:
    """The attribute keys a query names: exact (IRI, path) pairs and IRIs searched by prefix."""

    exact: set[tuple[str, str]] = field(default_factory=set)
    by_prefix: set[str] = field(default_factory=set)


@dataclass
class KeyMap:
    """Resolved keys: (IRI, path) → nid, and for prefix searches IRI → {path: nid}."""

    exact: dict[tuple[str, str], int] = field(default_factory=dict)
    paths: dict[str, dict[str, int]] = field(default_factory=dict)


class Compiled:
    """Parameters in the order of their `$n` placeholders."""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"


# --- key resolution -------------------------------------------------------------------------


def needed_keys(query: EntityQuery) -> KeyNeeds:
    needs = KeyNeeds()
    needs.exact.update((name, "#") for name in query.attrs)
    if query.geo is not None:
        needs.exact.add((query.geo.geoproperty, "#"))
    for term in query.order:
        needs.exact.update(order_keys(term))
    if query.q is not None:
        for path, op in _paths(query.q):
            if op is None and path.compound:
                needs.by_prefix.add(path.attr)
            elif op is None:
                needs.exact.add((path.attr, _marker_path(path)))
            else:
                needs.exact.add((path.attr, value_path(path)))
            if op == "!=":  # the target element's presence too (`_comparison`)
                if path.compound:
                    needs.by_prefix.add(path.attr)
                else:
                    needs.exact.add((path.attr, _marker_path(path)))
        for comparison in _comparisons(query.q):
            marker = relationship_marker(comparison)
            if marker is not None:  # its instances' types (`_comparison`)
                needs.exact.add((comparison.path.attr, marker))
    return needs


def _paths(expr: QExpr) -> Iterator[tuple[AttrPath, str | None]]:
    if isinstance(expr, (And, Or)):
        for term in expr.terms:
            yield from _paths(term)
    elif isinstance(expr, Exists):
        yield expr.path, None
    elif isinstance(expr, Linked):
        raise unresolved(expr)
    else:
        yield expr.path, expr.op


def _comparisons(expr: QExpr) -> Iterator[Comparison]:
    if isinstance(expr, (And, Or)):
        for term in expr.terms:
            yield from _comparisons(term)
    elif isinstance(expr, Comparison):
        yield expr


def _marker_path(path: AttrPath) -> str:
    base = "".join(f".{s}" for s in path.sub)
    return base if path.sub and path.sub[-1] in _MEMBER_NAMES else base + "#"


# --- the WHERE clause -----------------------------------------------------------------------


def where_clause(tenant: str, query: EntityQuery, keys: KeyMap, c: Compiled) -> str:
    parts = [f"e.tenant = {c.p(tenant)}"]
    if query.ids:
        parts.append(f"e.id = ANY({c.p(list(query.ids))}::text[])")
    if query.id_pattern is not None:
        parts.append(f"e.id ~ {c.p(postgres_pattern(query.id_pattern))}")
    if query.after is not None:
        parts.append(f"e.id > {c.p(query.after)}")
    if query.types is not None:
        parts.append(_types(query.types, c))
    if query.attrs:
        nids = [n for a in query.attrs if (n := keys.exact.get((a, "#"))) is not None]
        marked = f"a.nid = ANY({c.p(nids)}::integer[]) AND a.kind = '#'" if nids else ""
        parts.append(_has(TXT, marked) if nids else "FALSE")
    if query.q is not None:
        parts.append(_q(query.q, keys, c))
    if query.scope is not None:
        parts.append(_scope(query.scope, c))
    if query.geo is not None:
        parts.append(_geo(query.geo, keys, c))
    return " AND ".join(parts)


def q_clause(q: QExpr, keys: KeyMap, c: Compiled) -> str:
    """The condition of a `q` alone, on alias `e`."""
    return _q(q, keys, c)


def _has(table: str, condition: str) -> str:
    return f"EXISTS (SELECT 1 FROM {table} a WHERE a.ent = e.ent AND {condition})"


def _present(condition: str) -> str:
    """Some value, of any kind, satisfies `condition`.

    One correlated sub-select over both tables: PostgreSQL probes it per entity (two index
    lookups), where `EXISTS … OR EXISTS …` made it hash every row of the attribute first.
    """
    return (
        f"EXISTS (SELECT 1 FROM {NUM} a WHERE a.ent = e.ent AND {condition} "
        f"UNION ALL SELECT 1 FROM {TXT} a WHERE a.ent = e.ent AND {condition})"
    )


def _types(expr: TypeExpr, c: Compiled) -> str:
    if isinstance(expr, TypeName):
        return f"e.types @> ARRAY[{c.p(expr.name)}::text]"
    joiner = " AND " if isinstance(expr, TypeAnd) else " OR "
    return "(" + joiner.join(_types(t, c) for t in expr.terms) + ")"


def _q(expr: QExpr, keys: KeyMap, c: Compiled) -> str:
    if isinstance(expr, And):
        return "(" + " AND ".join(_q(t, keys, c) for t in expr.terms) + ")"
    if isinstance(expr, Or):
        return "(" + " OR ".join(_q(t, keys, c) for t in expr.terms) + ")"
    if isinstance(expr, Exists):
        return _exists(expr.path, keys, c)
    if isinstance(expr, Linked):
        raise unresolved(expr)
    return _comparison(expr, keys, c)


def _system_time(attr: str, member: str, test: str, c: Compiled) -> str:
    """Some instance of `attr` has the system time `member` and it meets `test` (SQL on `t`,
    the time in its canonical microsecond form), read from the stored document."""
    time = f"j.v ->> '{member}'"  # Dalgu writes milliseconds: 24 characters
    return (
        "EXISTS (SELECT 1 FROM jsonb_array_elements(convert_from(e.doc, 'UTF8')::jsonb -> "
        f"{c.p(attr)}::text) AS j(v), LATERAL (SELECT CASE WHEN length({time}) = 24 THEN "
        f"substr({time}, 1, 23) || '000Z' ELSE {time} END AS t) s WHERE s.t {test})"
    )


def _system_comparison(expr: Comparison, member: str, keys: KeyMap, c: Compiled) -> str:
    negated = expr.op == "!="
    value = expr.value
    if expr.op in ("~=", "!~=") or not datetimes(value):
        # a DateTime equals no other kind; `!=` holds where the time is
        return _exists(expr.path, keys, c) if negated else "FALSE"
    if isinstance(value, QRange):
        low, high = _literal(value.low)[1], _literal(value.high)[1]
        test = f"BETWEEN {c.p(low)}::text AND {c.p(high)}::text"
    elif isinstance(value, QList):
        test = f"= ANY({c.p([_literal(v)[1] for v in value.values])}::text[])"
    else:
        op = "==" if negated else expr.op
        test = f"{_SQL_OPS[op]} {c.p(_literal(value)[1])}::text"
    found = _system_time(expr.path.attr, member, test, c)
    return f"({_exists(expr.path, keys, c)} AND NOT {found})" if negated else found


def _exists(path: AttrPath, keys: KeyMap, c: Compiled) -> str:
    member = system_time(path)
    if member is not None:
        return _system_time(path.attr, member, "IS NOT NULL", c)
    if path.compound:
        prefix = value_path(path)
        nids = [
            nid
            for p, nid in keys.paths.get(path.attr, {}).items()
            if p == prefix or p.startswith(prefix + "[")
        ]
        return _present(f"a.nid = ANY({c.p(nids)}::integer[])") if nids else "FALSE"
    marker = _marker_path(path)
    nid = keys.exact.get((path.attr, marker))
    if nid is None:
        return "FALSE"
    if marker.endswith("#"):
        return _has(TXT, f"a.nid = {c.p(nid)} AND a.kind = '#'")
    return _present(f"a.nid = {c.p(nid)}")


def _comparison(expr: Comparison, keys: KeyMap, c: Compiled) -> str:
    """`!=` and `!~=` hold where the target element is (whatever its value: a JSON object, an
    empty array) and no value there matches (clause 4.9: values of different data types are
    unequal)."""
    member = system_time(expr.path)
    if member is not None:
        return _system_comparison(expr, member, keys, c)
    nid = keys.exact.get((expr.path.attr, value_path(expr.path)))
    if nid is None:
        return f"({_exists(expr.path, keys, c)})" if expr.op == "!=" else "FALSE"
    key = c.p(nid)
    op = {"!=": "==", "!~=": "~="}.get(expr.op, expr.op)
    test = _match(op, expr.value, key, c)
    if expr.op == "!=":
        test = f"{_exists(expr.path, keys, c)} AND NOT {test}"
    elif expr.op == "!~=":  # some string there, none matching: another type is not matching
        strings = _has(TXT, f"a.nid = {key} AND a.kind = 's'")
        test = f"{strings} AND NOT {test}"
    marker = relationship_marker(expr)
    objects = None if marker is None else keys.exact.get((expr.path.attr, marker))
    if objects is not None:  # clause 4.9: a Relationship takes `==` and `!=` only
        related = f"a.nid = {c.p(objects)} AND a.kind = '#' AND a.txt IN {RELATIONSHIP_TYPES_SQL}"
        test = f"{test} AND NOT {_has(TXT, related)}"
    return f"({test})" if expr.op in ("!=", "!~=") or objects is not None else test


def _literal(value: QValue) -> tuple[str, Any]:
    """(kind, typed value) of a q literal as the index stores it."""
    if value.kind == "number":
        return "n", float(value.value)
    if value.kind == "boolean":
        return "b", 1.0 if value.value else 0.0
    text = str(value.value)
    return "s", canonical_datetime(text) if is_datetime(text) else text


def _match(op: str, value: QValue | QRange | QList, key: str, c: Compiled) -> str:
    """Some value at the path (nid `key`) matches; numbers and strings live in two tables."""
    if op == "~=":
        regex = c.p(postgres_pattern(str(value.value)))  # type: ignore[union-attr]
        return _has(TXT, f"a.nid = {key} AND a.kind = 's' AND a.txt ~ {regex}")
    if isinstance(value, QList):
        return _listed(value, key, c)
    if isinstance(value, QRange):
        (low_kind, _), (high_kind, _) = _literal(value.low), _literal(value.high)
        if low_kind != high_kind:
            return "FALSE"
        low, high = _compare(">=", value.low, c), _compare("<=", value.high, c)
        return _has(NUM if low_kind != "s" else TXT, f"a.nid = {key} AND {low} AND {high}")
    kind = _literal(value)[0]
    return _has(NUM if kind != "s" else TXT, f"a.nid = {key} AND {_compare(op, value, c)}")


def _listed(values: QList, key: str, c: Compiled) -> str:
    """Some value at the path equals one of the list's: one `= ANY` per kind (a linked-entity
    term lists thousands of ids), strings past the index's prefix one by one."""
    by_kind: dict[str, list[Any]] = {}
    alternatives = []
    for item in values.values:
        kind, typed = _literal(item)
        if kind == "s" and len(typed) >= PREFIX:
            alternatives.append(_match("==", item, key, c))
        else:
            by_kind.setdefault(kind, []).append(typed)
    for kind, typed_values in by_kind.items():
        if kind == "s":
            listed = f"left(a.txt, {PREFIX}) = ANY({c.p(typed_values)}::text[])"
            alternatives.append(_has(TXT, f"a.nid = {key} AND a.kind = 's' AND {listed}"))
        else:
            listed = f"a.num = ANY({c.p(typed_values)}::float8[])"
            alternatives.append(_has(NUM, f"a.nid = {key} AND a.kind = '{kind}' AND {listed}"))
    return "(" + " OR ".join(alternatives) + ")"


def _compare(op: str, value: QValue, c: Compiled) -> str:
    kind, typed = _literal(value)
    sql_op = _SQL_OPS[op]
    if kind != "s":
        return f"a.kind = '{kind}' AND a.num {sql_op} {c.p(typed)}"
    shape = temporal_shape(value, op)
    if shape is not None:  # a Date is not before a Time (clause 4.9: types must agree)
        test = f"left(a.txt, {PREFIX}) {sql_op} {c.p(typed)}"
        return f"a.kind = 's' AND {test} AND a.txt ~ {c.p(shape[1])}"
    # The index holds left(txt, 256). For a shorter literal, comparing the prefix is exactly
    # comparing the value; a longer one needs the prefix as a bound, then the full value.
    if len(typed) < PREFIX:
        return f"a.kind = 's' AND left(a.txt, {PREFIX}) {sql_op} {c.p(typed)}"
    bound = {"=": "=", ">": ">=", ">=": ">=", "<": "<=", "<=": "<="}[sql_op]
    return (
        f"a.kind = 's' AND left(a.txt, {PREFIX}) {bound} {c.p(typed[:PREFIX])} "
        f"AND a.txt {sql_op} {c.p(typed)}"
    )


def _scope(expr: ScopeExpr, c: Compiled) -> str:
    if isinstance(expr, (ScopeAnd, ScopeOr)):
        joiner = " AND " if isinstance(expr, ScopeAnd) else " OR "
        return "(" + joiner.join(_scope(t, c) for t in expr.terms) + ")"
    segments = expr.segments
    if segments == ("#",):
        return "cardinality(e.scopes) > 0"
    fixed: list[str] = []
    for segment in segments:
        if segment in ("+", "#"):
            break
        fixed.append(segment)
    prefix = "/" + "/".join(fixed)
    if len(fixed) == len(segments):
        scope = c.p(prefix)
        return f"(e.scope_tree @> ARRAY[{scope}::text] AND {scope} = ANY(e.scopes))"
    if len(fixed) == len(segments) - 1 and segments[-1] == "#":
        return f"e.scope_tree @> ARRAY[{c.p(prefix)}::text]"
    regex = f"EXISTS (SELECT 1 FROM unnest(e.scopes) s WHERE s ~ {c.p(scope_pattern_regex(expr))})"
    if not fixed:
        return regex
    return f"(e.scope_tree @> ARRAY[{c.p(prefix)}::text] AND {regex})"


def _geo(geo: GeoQuery, keys: KeyMap, c: Compiled) -> str:
    """The entity's geoproperty related to the query geometry as clause 4.10 defines:
    e.g. `within` holds when the entity's geometry lies within the query's."""
    nid = keys.exact.get((geo.geoproperty, "#"))
    if nid is None:
        return "FALSE"
    if geo.georel == "near":
        # as SQLite and the subscriptions measure it, lines straight in lon/lat (`near.py`);
        # its box test on `g.geom` is estimated from the column statistics
        test = near_test(geo, "g.geom", c.p)
    else:
        shape = f"ST_GeomFromWKB({c.p(shapely.to_wkb(geo.shape))}::bytea, 4326)"
        test = f"{_GEO_FUNCTIONS[geo.georel]}(g.geom, {shape})"
    return f"EXISTS (SELECT 1 FROM geo g WHERE g.ent = e.ent AND g.nid = {c.p(nid)} AND {test})"


# --- orderBy (clause 4.23) -------------------------------------------------------------------

_NUM_RANK = (
    f"CASE a.kind WHEN 'n' THEN {RANK_NUMBER} WHEN 'b' THEN {RANK_BOOLEAN} ELSE {RANK_NULL} END"
)
_TXT_RANK = string_rank_sql("a.txt", lambda pattern, value: f"{value} ~ '{pattern}'")
_DOC_MEMBERS = ("createdAt", "modifiedAt")  # instance times are not indexed


def doc_member(term: OrderTerm) -> bool:
    return len(term.members) == 1 and term.members[0] in _DOC_MEMBERS


def order_keys(term: OrderTerm) -> list[tuple[str, str]]:
    """The (attribute, path) keys an ordering term reads from the index."""
    if term.by_distance:
        return [(term.attribute, "#")]
    if term.entity_member or doc_member(term):
        return []
    keys = [(term.attribute, term.path)]
    if term.marker_path is not None:
        keys.append((term.attribute, term.marker_path))
    return keys


def order_clause(query: EntityQuery, keys: KeyMap, c: Compiled, collation: str) -> str:
    """ORDER BY for `query.order`, ending with the entity id (a stable page order).

    Within a term: the datatype rank first (clause 4.23.2), then numbers and booleans, then
    strings in `collation` (an SQL collation name); a missing value sorts last either way.
    """
    parts: list[str] = []
    for term in query.order:
        pick = "max" if term.descending else "min"
        way = "DESC" if term.descending else "ASC"
        if term.entity_member:
            column = {
                "id": "e.id",
                "type": f"(SELECT {pick}(t) FROM unnest(e.types) t)",
                "scope": f"(SELECT {pick}(s) FROM unnest(e.scopes) s)",
                "createdAt": "e.created_at",
                "modifiedAt": "e.modified_at",
            }[term.attribute]
            # an id is never missing: without NULLS LAST either way walks the id index
            parts.append(
                f"{column} {way}" if term.attribute == "id" else f"{column} {way} NULLS LAST"
            )
            continue
        if term.by_distance:
            nid = keys.exact.get((term.attribute, "#"))
            if query.order_from is None or nid is None:
                continue
            place = (
                f"geography(ST_GeomFromWKB({c.p(shapely.to_wkb(query.order_from))}::bytea, 4326))"
            )
            # on the sphere, as clause 4.23.1 defines the order (the Haversine formula); on
            # the WGS 84 ellipsoid two places ~0.3 % apart in the two could swap
            distance = (
                f"(SELECT min(ST_Distance(g.geog, {place}, false)) FROM geo g "
                f"WHERE g.ent = e.ent AND g.nid = {c.p(nid)})"
            )
            parts.append(f"{distance} {way} NULLS LAST")
            continue
        if doc_member(term):
            attribute, member = c.p(term.attribute), c.p(term.members[0])
            value = f"(convert_from(e.doc, 'UTF8')::jsonb -> {attribute} -> 0 ->> {member})"
            parts.append(f"{value} {way} NULLS LAST")
            continue
        nid = keys.exact.get((term.attribute, term.path))
        marker = keys.exact.get((term.attribute, term.marker_path or ""))
        if nid is None and marker is None:
            continue  # no entity has it: it orders nothing
        rows = f"a WHERE a.ent = e.ent AND a.nid = {c.p(nid if nid is not None else -1)}"
        rank = (
            f"least((SELECT min({_NUM_RANK}) FROM {NUM} {rows}), "
            f"(SELECT min({_TXT_RANK}) FROM {TXT} {rows} AND a.kind = 's'))"
        )
        if marker is not None:  # the attribute is there, its value an object
            is_there = f"a WHERE a.ent = e.ent AND a.nid = {c.p(marker)}"
            rank = f"{rank}, (SELECT {RANK_OBJECT} FROM {TXT} {is_there} LIMIT 1)"
        parts.append(f"coalesce({rank}, {RANK_ABSENT})")
        parts.append(f"(SELECT {pick}(a.num) FROM {NUM} {rows} AND a.kind IN ('n', 'b')) {way}")
        text = f"(SELECT {pick}(a.txt COLLATE {collation}) FROM {TXT} {rows} AND a.kind = 's')"
        parts.append(f"{text} {way}")
    parts.append("e.id")
    return ", ".join(parts)
