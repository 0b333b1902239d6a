"""Which index drives an entity query: the entity walk in id order, the R*Tree, or a value index.

`query.py` compiles every filter to conditions on one entity; run as they are, SQLite walks the
tenant's entities in id order and tests each until `limit` match. That is right for common
matches and wrong for rare ones: 1.7% of 100,000 vehicles in a speed band means ~6,000
entities tested for a page of 100 (~10 ms), and all of them for `count=true`. A `Driver` is a
set of candidate entities taken from an index instead; the query then reads only those, still
tests every condition on each, and sorts the matches.

- geo-queries with a bounding box always drive from the R*Tree: SQLite evaluated that
  subquery in full anyway, so walking the entities afterwards only added to it;
- a type selection drives from the type index (`entity_types`) when its types are rare: the
  same bar as below. A type that few entities have (or none: the Wi-Fi sweep asks for its two
  types every 30 s) was found by testing every entity of the tenant, 40 ms at 100,000;
- a `q` drives from the value indexes (`attrs_num`; `attrs_string`, strings of values only) when
  one of its top-level comparisons is on numbers or value strings and selective: the rows of
  one attribute path within every bound the query puts on that path, plus the entities that
  hold several values there (`attrs_multi`; each bound may hold for a different one of
  them). It is selective when fewer than sqrt((offset + limit) x entities) rows are in range:
  above that, the walk reaches `limit` matches sooner;
- `attrs=` and a top-level `q` term that an attribute exists drive from the attribute's
  instance markers (`attrs_marker`) when few entities hold it, by the same bar as a type;
- a `scopeQ` drives from the scope index (`entity_scopes_scope`) by its patterns' literal
  beginnings when few scopes have them, by the same bar;
- a count is chosen for apart from its page (the store asks twice): it tests every match, so
  a value index drives it whatever its rows, and a type index when under a quarter of the
  entities. A count by type alone is the type index's rows (`count_by_types`);
- a page ordered by an attribute's numbers, when none of the above drives it, comes from the
  numbers' index walked in order (`ordered.py`).

`choose` and the query it drives must run in one read transaction: the driver relies on what
`attrs_multi` held when it was chosen.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from math import isqrt
from sqlite3 import Connection
from typing import Any

from dalgu.query.ast import (
    And,
    Comparison,
    Exists,
    QRange,
    QValue,
    ScopeAnd,
    ScopeExpr,
    ScopePattern,
    TypeAnd,
    TypeExpr,
    names_either,
)
from dalgu.query.pattern_text import LAST
from dalgu.store.base import EntityQuery
from dalgu.store.indexing import relationship_marker, temporal_shape
from dalgu.store.kept import Kept
from dalgu.store.sqlite.collation_prefix import range_prefix, string_prefix
from dalgu.store.sqlite.geo import search_box
from dalgu.store.sqlite.near import geo_test
from dalgu.store.value_groups import value_groups, value_path

_MIN_CAP = 500


@dataclass(slots=True)
class Driver:
    """`SELECT ent, exact ...` of candidate entities (each once) and its parameters.

    `geo`: the candidates are exactly the entities the geo-query selects. `q`: a candidate
    whose `exact` is 1 satisfies the whole q (one value row within all of its bounds), so only
    the others need testing against it.
    """

    sql: str
    params: list[Any] = field(default_factory=list)
    geo: bool = False
    q: bool = False


class PlanCounts:
    """How many rows an index gives a condition (entities of some types, values within some
    bounds, holders of an attribute or a scope), counted up to a bar and kept `KEEP` seconds:
    counting a common type's or a band of values' rows up to the bar (~1,700-3,000 index rows)
    cost a query 0.16 ms more than the query itself, each time it was asked. A count a little
    stale only chooses the index less well for a moment; every condition is still tested on
    every candidate."""

    KEEP = 2.0

    def __init__(self) -> None:
        self._counted: Kept[tuple[int, int]] = Kept()  # (rows found, the bar counted to)

    def rows(self, db: Connection, rows: str, params: list[Any], cap: int) -> int:
        """The rows of `FROM ... WHERE ...`, or `cap` when there are at least that many."""
        key = (rows, tuple(params))
        asked = time.monotonic()
        kept = self._counted.get(key, asked, self.KEEP)
        if kept is not None:
            found, bar = kept
            if found < bar or bar >= cap:  # an exact count, or a bar as high as this one
                return min(found, cap)
        found = _rows_within(db, rows, params, cap)
        self._counted.put(key, (found, cap), asked)
        return found


def choose(
    db: Connection, tenant: str, query: EntityQuery, counts: PlanCounts | None = None
) -> Driver | None:
    """The index to drive `query` from, or None to walk the entities in id order."""
    counted = counts or PlanCounts()
    geo = geo_driver(tenant, query) if query.geo is not None else None
    if query.limit == 0 and not query.count:
        return geo
    names = _type_names(query.types) if query.types is not None else None
    groups, others = value_groups(query.q, _indexed) if query.q is not None else ({}, 0)
    held = _held(query)
    scopes = _scope_prefixes(query.scope) if query.scope is not None else None
    if geo is None and not groups and not names and not held and not scopes:
        return None
    (entities,) = db.execute("SELECT coalesce(max(ent), 0) FROM entities").fetchone()
    counting = query.count and query.limit == 0
    if query.count:
        cap = max(_MIN_CAP, entities // 4)
    else:
        cap = max(_MIN_CAP, isqrt((query.offset + query.limit) * entities))
    if geo is not None:
        # few geometries in the box: the geo-query's own matches. Many (a city-sized polygon,
        # a 20 km `near`): testing each of them cost seconds for a page of 100 (perf-1,
        # perf-4); the walk in id order, of the type's entities when there is one, tests
        # each entity's geometry until the page is full (`query.py`, `_geo`)
        boxed, params = _boxed(tenant, query)
        if counted.rows(db, boxed, params, cap) < cap:
            return geo
    best: tuple[int, Driver] | None = None
    if names:
        # a rare type: its entities from the type index, not a walk of every entity testing
        # each (a type with no entity at all cost a walk of the whole tenant: 40 ms at 100,000)
        rows = counted.rows(db, _typed(names), [tenant, *names], cap)
        if rows < cap:
            distinct = "DISTINCT " if len(names) > 1 else ""  # an entity may have both types
            best = (
                rows,
                Driver(f"SELECT {distinct}ent, 0 AS exact {_typed(names)}", [tenant, *names]),
            )
    for attributes in held:
        # entities that hold a rare attribute: from its instances' markers, not a walk of
        # every entity (`attrs=temperature` among 100,000 vehicles: 82-140 ms)
        marks = ",".join("?" * len(attributes))
        marked = f"FROM attrs WHERE tenant = ? AND name IN ({marks}) AND path = '#'"
        params = [tenant, *attributes]
        rows = counted.rows(db, marked, params, cap)
        if rows < cap and (best is None or rows < best[0]):
            best = (rows, Driver(f"SELECT DISTINCT ent, 0 AS exact {marked}", params))
    if scopes:
        # entities in a rare scope: from the scope index by the patterns' literal prefixes
        # (a superset; each candidate is tested against the whole scopeQ), not a walk of
        # every entity (a scope nobody has among 100,000 vehicles: 104-113 ms)
        ranges = " OR ".join(["(scope >= ? AND scope < ?)"] * len(scopes))
        scoped = f"FROM entity_scopes WHERE {ranges}"
        params = [bound for prefix in scopes for bound in (prefix, prefix + LAST)]
        rows = counted.rows(db, scoped, params, cap)
        if rows < cap and (best is None or rows < best[0]):
            best = (rows, Driver(f"SELECT DISTINCT ent, 0 AS exact {scoped}", params))
    # the bounds of the one group are the whole q, unless a string ordering must also not
    # be on a Relationship's objects (a test of the markers, not of the value rows)
    whole = len(groups) == 1 and not others and not _on_objects(query)
    for (attr, path, kind), bounds in groups.items():
        if kind == "n":
            within = " AND ".join(f"num {op} ?" for op, _ in bounds)
            # the partial index's own condition, literally: SQLite uses it only then
            values = (
                f"FROM attrs WHERE tenant = ? AND name = ? AND path = ? AND kind = 'n' AND {within}"
            )
            value_params = [tenant, attr, path, *(t for _, t in bounds)]
        else:
            values, value_params = _string_rows(tenant, attr, bounds)
        several = "FROM attrs_multi WHERE tenant = ? AND name = ? AND path = ?"
        several_params = [tenant, attr, path]
        rows = counted.rows(db, values, value_params, cap)
        multi = counted.rows(db, several, several_params, cap)
        rows += multi
        # a count tests every match: candidates from a value index cost it less than a walk
        # of every entity however many they are (the key index gives each one's type, the
        # walk probes the type and value indexes per entity; half of 100,000: 30 ms, not 136)
        if (rows < cap or (counting and best is None)) and (best is None or rows < best[0]):
            if multi:
                sql = (
                    f"SELECT ent, max(exact) AS exact FROM (SELECT ent, 1 AS exact {values} "
                    f"UNION ALL SELECT ent, 0 {several}) GROUP BY ent"
                )
                best = (rows, Driver(sql, value_params + several_params, q=whole))
            else:
                # no entity holds two values there: each value row is a distinct entity
                # (the caller reads in one snapshot), no grouping of the candidates needed
                best = (rows, Driver(f"SELECT ent, 1 AS exact {values}", value_params, q=whole))
    if best is None and counting and not names:
        # a count tests every match: the box's geometries rather than every entity's (with
        # a type, its entities: `typed_arms`)
        return geo
    return None if best is None else best[1]


def typed_arms(query: EntityQuery) -> tuple[str | None, ...] | None:
    """The `type1` values of walks in id order (`entities_type_id`) that together hold every
    match of a query selecting by type: each of the selection's names, and NULL (the entities
    of several types; every condition is still tested on each). None when the query has no
    such selection or names its ids (a few rows by key)."""
    if query.types is None or query.ids:
        return None
    names = _type_names(query.types)
    return None if not names else (*names, None)


def _boxed(tenant: str, query: EntityQuery) -> tuple[str, list[Any]]:
    """`FROM ... WHERE ...` the tenant's geometries of the geo-query's property in its box."""
    assert query.geo is not None
    box = search_box(query.geo)
    assert box is not None
    minx, miny, maxx, maxy = box
    return (
        "FROM geo_rtree r JOIN geo g ON g.gid = r.gid WHERE r.minx <= ? AND r.maxx >= ? "
        "AND r.miny <= ? AND r.maxy >= ? AND g.tenant = ? AND g.name = ?",
        [maxx, minx, maxy, miny, tenant, query.geo.geoproperty],
    )


def count_by_types(db: Connection, tenant: str, query: EntityQuery) -> int | None:
    """The count of a query that selects by type alone, without reading an entity: a type's
    count kept by the writes (`summary.py`), or the type index's rows of several types
    (`type=Vehicle&count=true` walked 100,000 entities testing each: 33 ms). None for any
    other query."""
    names = query.types_alone()
    if names is None:
        return None
    if len(names) == 1:
        found = db.execute(
            "SELECT n FROM type_entities WHERE tenant = ? AND type = ?", (tenant, names[0])
        ).fetchone()
        return 0 if found is None else int(found[0])
    # an entity may have both types
    (counted,) = db.execute(
        f"SELECT count(DISTINCT ent) {_typed(names)}", [tenant, *names]
    ).fetchone()
    return int(counted)


def _typed(names: tuple[str, ...]) -> str:
    """The type index's rows of `names` in a tenant (parameters: the tenant, then the names)."""
    return f"FROM entity_types WHERE tenant = ? AND type IN ({','.join('?' * len(names))})"


def _type_names(expr: TypeExpr) -> tuple[str, ...] | None:
    """Types of which every match has one: a name, the names of an OR of names, or those of
    the fewest-named term of an AND; None when the expression is not so simple."""
    if not isinstance(expr, TypeAnd):
        return names_either(expr)
    options = [n for n in (_type_names(t) for t in expr.terms) if n]
    return min(options, key=len) if options else None


def geo_driver(tenant: str, query: EntityQuery) -> Driver | None:
    """The entities whose geometry satisfies the geo-query, found through the R*Tree."""
    geo = query.geo
    assert geo is not None
    box = search_box(geo)
    if box is None:
        return None
    minx, miny, maxx, maxy = box
    params: list[Any] = [maxx, minx, maxy, miny, tenant, geo.geoproperty]

    def bind(value: Any) -> str:
        params.append(value)
        return "?"

    test = geo_test(geo, bind, rtree="r")
    return Driver(
        "SELECT DISTINCT g.ent, 0 AS exact FROM geo_rtree r JOIN geo g ON g.gid = r.gid "
        "WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ? "
        f"AND g.tenant = ? AND g.name = ? AND {test}",
        params,
        geo=True,
    )


def _scope_prefixes(expr: ScopeExpr) -> list[str] | None:
    """Literal beginnings one of which every scope a match has starts with (the levels
    before a pattern's first `+` or `#`); None when a pattern has none (`/#`, `/+/a`)."""
    if isinstance(expr, ScopePattern):
        levels = list(itertools.takewhile(lambda s: s not in ("+", "#"), expr.segments))
        return ["/" + "/".join(levels)] if levels else None
    found = [_scope_prefixes(term) for term in expr.terms]
    if isinstance(expr, ScopeAnd):  # every match matches each term: any term's will do
        return min((f for f in found if f), key=len, default=None)
    if any(f is None for f in found):  # an OR: every term's
        return None
    return sorted({p for f in found if f for p in f})


def _held(query: EntityQuery) -> list[tuple[str, ...]]:
    """Sets of attribute names of which every match holds one at the top level: `attrs`, and
    each attribute a top-level term of `q` asks to exist."""
    held = [tuple(sorted(set(query.attrs)))] if query.attrs else []
    if query.q is not None:
        terms = query.q.terms if isinstance(query.q, And) else (query.q,)
        held.extend(
            (term.path.attr,)
            for term in terms
            if isinstance(term, Exists) and not term.path.sub and not term.path.compound
        )
    return held


def _string_rows(tenant: str, attr: str, bounds: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """`FROM ...` the value strings' rows of `attr` within `bounds`, from `attrs_string`.

    That index orders a tenant's strings of an attribute by their collation prefix (`num`:
    none for times, dates and date-times), then by the text. An equal string has the
    literal's own prefix, so an equality is one seek. A range is two parts: the strings without
    a prefix (a date attribute's) by the text, and the others: read through, each tested by the
    text in the index (a prefix tells nothing of the text's binary order), unless the range's
    bounds share a beginning that fixes the prefix."""
    within = " AND ".join(f"txt {op} ?" for op, _ in bounds)
    texts = [text for _, text in bounds]
    # the partial index's own condition holds for `path = ''`: SQLite sees it implied
    at = "tenant = ? AND name = ? AND path = '' AND kind = 's'"
    equal = next((text for op, text in bounds if op == "="), None)
    if equal is not None:
        return (
            f"FROM attrs WHERE {at} AND num IS ? AND {within}",
            [tenant, attr, string_prefix(equal), *texts],
        )
    # a string between two bounds begins with what they share: when that fixes the prefix,
    # the plain strings in range are one seek too (`50가0001`..`50가0100`)
    low = next((text for op, text in bounds if op in (">", ">=")), None)
    high = next((text for op, text in bounds if op in ("<", "<=")), None)
    shared = None if low is None or high is None else range_prefix(low, high)
    plain, plain_params = ("num IS NOT NULL", []) if shared is None else ("num = ?", [shared])
    return (
        f"FROM (SELECT ent FROM attrs WHERE {at} AND num IS NULL AND {within} "
        f"UNION ALL SELECT ent FROM attrs WHERE {at} AND {plain} AND {within})",
        [tenant, attr, *texts, tenant, attr, *plain_params, *texts],
    )


def _on_objects(query: EntityQuery) -> bool:
    """Whether a top-level term of `q` may reach a Relationship's objects with an operator
    they do not take (`store.indexing.relationship_marker`)."""
    terms = query.q.terms if isinstance(query.q, And) else (query.q,)
    return any(isinstance(t, Comparison) and relationship_marker(t) for t in terms)


def _indexed(kind: str, term: Comparison) -> bool:
    """Whether a value index holds the rows a comparison of this kind looks at (an ordering
    of dates or times also tests each text's shape: not a range of the index alone)."""
    if kind == "s" and _shaped(term):
        return False
    return kind == "n" or (kind == "s" and value_path(term.path) == "")


def _shaped(term: Comparison) -> bool:
    if isinstance(term.value, QRange):  # a range orders as >= and <= do
        return temporal_shape(term.value.low, ">=") is not None
    return isinstance(term.value, QValue) and temporal_shape(term.value, term.op) is not None


def _rows_within(db: Connection, rows: str, params: list[Any], cap: int) -> int:
    """How many rows `FROM ... WHERE ...` gives, counting no further than `cap`."""
    (found,) = db.execute(
        f"SELECT count(*) FROM (SELECT 1 {rows} LIMIT ?)", (*params, cap)
    ).fetchone()
    return int(found)
