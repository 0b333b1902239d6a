"""A page of a `q` that bounds one attribute's numbers, from the numbers' index.

Without this PostgreSQL walks the tenant's entities in id order, testing each against the
query, until the page is full: `type=Vehicle&q=speed>=60;speed<62&limit=100` tested ~6,000 of
100,000 vehicles for its 100 (13-15 ms). When the `q` is bounds on one attribute path's numbers
and few rows lie within all of them (fewer than sqrt((offset + limit) x entities), the bar
SQLite's planner uses), the page is read from those rows' entities instead. An entity with one
value there matches exactly when that value is within every bound. An entity holding several
(`attr_multi`: an array, several instances) may match through different values, so each of
those is tested against the `q` itself. The rest of the query is tested on every candidate;
the matches are sorted by id.

Only a `q` made of that one path's bounds is driven. With other terms PostgreSQL planned their
`EXISTS` as a join hashing every row of the attribute (50,000 for `speed>=60`), slower than
the walk; those queries walk as before.

The probe that counts the rows within the bounds is kept two seconds (`RangeCounts`), as
SQLite's planner keeps its counts: it cost each such query a round trip and ~0.5-0.9 ms of
PostgreSQL's time. A count a little stale only chooses the walk or the index less well for a
moment; the page's query tests every condition either way.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from dalgu.query.ast import Comparison
from dalgu.store.base import EntityQuery
from dalgu.store.kept import Kept
from dalgu.store.postgres.query import NUM, Compiled, KeyMap, q_clause, where_clause
from dalgu.store.value_groups import Bound, value_groups

MIN_CAP = 500


def _numbers(kind: str, _: Comparison) -> bool:
    return kind == "n"  # `attr_num_value` holds numbers by (nid, kind, num)


class RangeCounts:
    """The probe's answer (the bar, the rows within the bounds up to it) by its statement and
    parameters, kept `KEEP` seconds."""

    KEEP = 2.0

    def __init__(self) -> None:
        self._kept: Kept[tuple[int, int]] = Kept()

    async def probe(self, conn: Any, sql: str, params: list[Any]) -> tuple[int, int]:
        key = (sql, tuple(params))
        asked = time.monotonic()
        kept = self._kept.get(key, asked, self.KEEP)
        if kept is not None:
            return kept
        cap, rows = await conn.fetchrow(sql, *params)
        self._kept.put(key, (int(cap), int(rows)), asked)
        return int(cap), int(rows)


async def range_page(
    conn: Any, tenant: str, query: EntityQuery, keys: KeyMap, counts: RangeCounts
) -> tuple[str, Compiled] | None:
    """The page's WHERE over candidates from the numbers' index, with its parameters; None
    to walk the entities."""
    if query.q is None or query.limit <= 0:
        return None
    groups, others = value_groups(query.q, _numbers)
    if len(groups) != 1 or others:
        return None
    ((attr, path, _kind), bounds), *_ = groups.items()
    nid = keys.exact.get((attr, path))
    if nid is None:
        return None  # no entity has the path: the walk finds none at once
    # one round trip: the bar from the planner's count of entities, then the rows within it
    probe = Compiled()
    reach, key = probe.p(query.offset + query.limit), probe.p(nid)
    bar = (
        f"greatest({probe.p(MIN_CAP)}, floor(sqrt({reach}::float8 * greatest(reltuples, 0))))"
        "::bigint FROM pg_class WHERE oid = 'entities'::regclass"
    )
    cap, rows = await counts.probe(
        conn,
        f"WITH bar AS (SELECT {bar}) SELECT (SELECT * FROM bar), "
        f"(SELECT count(*) FROM (SELECT 1 FROM {NUM} WHERE nid = {key} AND kind = 'n' "
        f"AND {_within(bounds, probe)} LIMIT (SELECT * FROM bar)) AS r) + "
        f"(SELECT count(*) FROM (SELECT 1 FROM attr_multi WHERE nid = {key} "
        "LIMIT (SELECT * FROM bar)) AS m)",
        list(probe.params),
    )
    if rows >= cap:
        return None
    c = Compiled()
    where = where_clause(tenant, replace(query, q=None), keys, c)
    candidates = (
        f"e.ent IN (SELECT ent FROM {NUM} WHERE nid = {c.p(nid)} AND kind = 'n' "
        f"AND {_within(bounds, c)} "
        f"UNION SELECT e.ent FROM attr_multi m JOIN entities e ON e.ent = m.ent "
        f"WHERE m.nid = {c.p(nid)} AND {q_clause(query.q, keys, c)})"
    )
    return f"{where} AND {candidates}", c


def _within(bounds: list[Bound], c: Compiled) -> str:
    return " AND ".join(f"num {op} {c.p(float(value))}" for op, value in bounds)
