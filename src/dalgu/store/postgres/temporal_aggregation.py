"""Temporal aggregation in the PostgreSQL store (clause 4.5.19): numbers grouped by period in
SQL (from the hourly rollups when whole hours allow, else from the instances), each attribute's
latest instance for the type that labels its member, and the instances of the attributes SQL's
numeric aggregation cannot answer, aggregated again by `store.periods`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from dalgu.store.base import TemporalEntity, TemporalQuery
from dalgu.store.history import parse_time
from dalgu.store.periods import AggregatedPeriods
from dalgu.store.postgres.query import Compiled
from dalgu.store.postgres.rollups import aggregate_hours
from dalgu.store.postgres.temporal_filters import TIME_COLUMNS, bucket_number, instance_filter
from dalgu.store.rollup import rollup_plan

_AGGREGATES = {
    "totalCount": "count(*)",
    "distinctCount": "count(DISTINCT coalesce(num::text, txt))",
    "sum": "sum(num)",
    "avg": "avg(num)",
    "min": "min(num)",
    "max": "max(num)",
    "stddev": "coalesce(stddev_samp(num), 0)",
    "sumsq": "sum(num * num)",
}


async def aggregate(
    conn: Any, tenant: str, query: TemporalQuery, entities: dict[str, TemporalEntity]
) -> None:
    found = AggregatedPeriods(query)
    plan = rollup_plan(query)
    if plan is not None:
        await aggregate_hours(conn, tenant, query, plan, entities, found)
    else:
        await _aggregate_instances(conn, tenant, query, entities, found)
    kinds = await _latest_instances(conn, tenant, query, entities, found)
    recompute = found.needing_instances(kinds)
    if recompute:
        found.compute(await _bucketed_instances(conn, tenant, query, recompute))
    found.fill(entities)


async def _aggregate_instances(
    conn: Any,
    tenant: str,
    query: TemporalQuery,
    entities: dict[str, TemporalEntity],
    found: AggregatedPeriods,
) -> None:
    c = Compiled()
    column = TIME_COLUMNS[query.timeproperty]
    where = (
        f"i.tenant = {c.p(tenant)} AND i.entity_id = ANY({c.p(list(entities))}::text[])"
        f"{instance_filter(query, c)} AND i.deleted_at IS NULL"
    )
    methods = ", ".join(_AGGREGATES[m] for m in query.aggregate)
    others = "count(*) - count(i.num)"
    period = query.period
    whole = period is None or period.is_zero
    if query.timerel in ("after", "between") and query.time_at is not None:
        # the origin is the query's: one grouping pass, no per-entity origin to join
        origin = parse_time(query.time_at)
        bucket = "0" if whole else bucket_number(period, column, f"{c.p(origin)}::timestamptz", c)
        sql = (
            f"SELECT i.entity_id, i.name, {bucket} AS bucket, "
            f"{f'max({column})' if whole else 'NULL'}, {others}, "
            f"{methods} FROM instances i WHERE {where} "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        for entity_id, name, index, last, extra, *values in await conn.fetch(sql, *c.params):
            found.add(entity_id, name, origin, last, index, values, extra)
        return
    rows = f"SELECT i.entity_id, i.name, {column} AS t, i.num, i.txt FROM instances i WHERE {where}"
    bucket = bucket_number(period, "r.t", "o.origin", c)
    sql = (
        f"WITH r AS ({rows}), o AS (SELECT r.entity_id, min(r.t) AS origin, max(r.t) AS last "
        "FROM r GROUP BY r.entity_id) "
        f"SELECT r.entity_id, r.name, {bucket} AS bucket, o.origin, o.last, "
        f"{others.replace('i.', 'r.')}, {methods} "
        "FROM r JOIN o ON o.entity_id = r.entity_id "
        "GROUP BY r.entity_id, r.name, bucket, o.origin, o.last ORDER BY 1, 2, 3"
    )
    for entity_id, name, index, start, last, extra, *values in await conn.fetch(sql, *c.params):
        found.add(entity_id, name, start, last, index, values, extra)


async def _latest_instances(
    conn: Any,
    tenant: str,
    query: TemporalQuery,
    entities: dict[str, TemporalEntity],
    found: AggregatedPeriods,
) -> dict[tuple[str, str], str]:
    """Each aggregated attribute's latest instance in the query (its type labels the
    aggregated member), set as its one instance; returns the attributes' types."""
    c = Compiled()
    column = TIME_COLUMNS[query.timeproperty]
    keys = list(found.attributes)
    sql = (
        f"SELECT k.e, k.n, (SELECT i.doc FROM instances i WHERE i.tenant = {c.p(tenant)} "
        f"AND i.entity_id = k.e AND i.name = k.n{instance_filter(query, c)} "
        f"AND i.deleted_at IS NULL ORDER BY {column} DESC LIMIT 1) "
        f"FROM unnest({c.p([e for e, _ in keys])}::text[], {c.p([n for _, n in keys])}::text[]) "
        "AS k(e, n)"
    )
    kinds: dict[tuple[str, str], str] = {}
    for entity_id, name, doc in await conn.fetch(sql, *c.params):
        if doc is None:
            continue
        instance = orjson.loads(doc)
        entities[entity_id].instances[name] = [instance]
        kinds[(entity_id, name)] = str(instance.get("type") or "Property")
    return kinds


async def _bucketed_instances(
    conn: Any, tenant: str, query: TemporalQuery, attributes: dict[tuple[str, str], datetime]
) -> list[tuple[str, str, int, bytes]]:
    """The instances of some attributes, each with the number of its period (counted from
    the attribute's origin)."""
    c = Compiled()
    column = TIME_COLUMNS[query.timeproperty]
    bucket = bucket_number(query.period, column, "o.origin", c)
    keys = list(attributes)
    sql = (
        f"SELECT i.entity_id, i.name, {bucket}, i.doc FROM unnest("
        f"{c.p([e for e, _ in keys])}::text[], {c.p([n for _, n in keys])}::text[], "
        f"{c.p(list(attributes.values()))}::timestamptz[]) AS o(e, n, origin) "
        f"JOIN instances i ON i.tenant = {c.p(tenant)} AND i.entity_id = o.e "
        f"AND i.name = o.n{instance_filter(query, c)} AND i.deleted_at IS NULL"
    )
    return [tuple(row) for row in await conn.fetch(sql, *c.params)]
