"""Hourly rollups of the temporal history on PostgreSQL (`store/rollup.py`): kept in the
write transactions of the instances, and aggregations read from them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from dalgu.store.base import TemporalEntity, TemporalQuery
from dalgu.store.history import InstanceRecord
from dalgu.store.periods import AggregatedPeriods
from dalgu.store.postgres.packed import pack, unpack
from dalgu.store.postgres.query import Compiled
from dalgu.store.postgres.temporal_filters import bucket_number, keys_filter
from dalgu.store.rollup import RollupPlan, hour_of

_ROLLUP_COLUMNS = """(tenant, entity_id, name, hour, dataset, count_all, count_num, sum_num,
    sumsq_num, min_num, max_num)"""
# the instances one write added, added to their hours (rows in key order: two writes that
# add to the same hours lock them in the same order); `postgres/temporal.py` runs it with the
# touch of the history's entities, in one round trip
ADD_TO_HOURS = f"""
INSERT INTO instance_hours AS h {_ROLLUP_COLUMNS}
SELECT $1, u.entity_id, u.name, u.hour, u.dataset, count(*), count(u.num),
    coalesce(sum(u.num), 0), coalesce(sum(u.num * u.num), 0), min(u.num), max(u.num)
FROM unnest({unpack(4, 2)}, {unpack(5, 2)}, $7::timestamptz[], {unpack(6, 2)}, $8::float8[])
    AS u(entity_id, name, hour, dataset, num)
GROUP BY 2, 3, 4, 5 ORDER BY 2, 3, 4, 5
ON CONFLICT (tenant, entity_id, name, hour, dataset) DO UPDATE SET
    count_all = h.count_all + excluded.count_all, count_num = h.count_num + excluded.count_num,
    sum_num = h.sum_num + excluded.sum_num, sumsq_num = h.sumsq_num + excluded.sumsq_num,
    min_num = least(h.min_num, excluded.min_num), max_num = greatest(h.max_num, excluded.max_num)
"""
_FORGET_HOURS = """
DELETE FROM instance_hours h USING unnest($2::text[], $3::text[], $4::timestamptz[])
    AS u(entity_id, name, hour)
WHERE h.tenant = $1 AND h.entity_id = u.entity_id AND h.name = u.name AND h.hour = u.hour
"""
# the hours rolled up again from their instances
_RECOUNT_HOURS = f"""
INSERT INTO instance_hours {_ROLLUP_COLUMNS}
SELECT $1, i.entity_id, i.name, u.hour, i.dataset, count(*), count(i.num),
    coalesce(sum(i.num), 0), coalesce(sum(i.num * i.num), 0), min(i.num), max(i.num)
FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS u(entity_id, name, hour)
JOIN instances i ON i.tenant = $1 AND i.entity_id = u.entity_id AND i.name = u.name
    AND i.at >= u.hour AND i.at < u.hour + interval '1 hour'
WHERE i.observed_at IS NOT NULL AND i.deleted_at IS NULL
GROUP BY 2, 3, 4, 5
"""
_REBUILD_HOURS = f"""
INSERT INTO instance_hours {_ROLLUP_COLUMNS}
SELECT tenant, entity_id, name, date_trunc('hour', at, 'UTC'), dataset, count(*), count(num),
    coalesce(sum(num), 0), coalesce(sum(num * num), 0), min(num), max(num)
FROM instances WHERE tenant = $1 AND observed_at IS NOT NULL AND deleted_at IS NULL
GROUP BY 1, 2, 3, 4, 5
"""
# aggregation methods over rollup rows: the same values as `_AGGREGATES` over the instances
_ROLLUP_AGGREGATES = {
    "totalCount": "sum(count_all)::bigint",
    "sum": "CASE WHEN sum(count_num) > 0 THEN sum(sum_num) END",
    "avg": "CASE WHEN sum(count_num) > 0 THEN sum(sum_num) / sum(count_num)::float8 END",
    "min": "min(min_num)",
    "max": "max(max_num)",
    "stddev": "CASE WHEN sum(count_num) > 1 THEN sqrt(greatest((sum(sumsq_num) - sum(sum_num) "
    "* sum(sum_num) / sum(count_num)::float8) / (sum(count_num)::float8 - 1), 0)) ELSE 0 END",
    "sumsq": "CASE WHEN sum(count_num) > 0 THEN sum(sumsq_num) END",
}
# the same over one rollup row: the bucket of an hourly aggregation is one hour
_HOUR_VALUES = {
    "totalCount": "count_all",
    "sum": "CASE WHEN count_num > 0 THEN sum_num END",
    "avg": "CASE WHEN count_num > 0 THEN sum_num / count_num::float8 END",
    "min": "min_num",
    "max": "max_num",
    "stddev": "CASE WHEN count_num > 1 THEN sqrt(greatest((sumsq_num - sum_num * sum_num "
    "/ count_num::float8) / (count_num::float8 - 1), 0)) ELSE 0 END",
    "sumsq": "CASE WHEN count_num > 0 THEN sumsq_num END",
}


async def rebuild_rollups(conn: Any, tenant: str) -> None:
    """Roll up a tenant's whole history again (after a bulk load that bypassed the store)."""
    async with conn.transaction():
        await conn.execute("DELETE FROM instance_hours WHERE tenant = $1", tenant)
        await conn.execute(_REBUILD_HOURS, tenant)


def hour_arrays(records: Sequence[tuple[str, InstanceRecord]]) -> list[Any] | None:
    """The parameters `ADD_TO_HOURS` takes after the tenant (entity ids, attributes and
    datasetIds packed, then the hours and the numbers) for the instances of a write that count
    in the rollups; None if none does."""
    entity_ids: list[str] = []
    names: list[str] = []
    hours: list[datetime] = []
    datasets: list[str] = []
    nums: list[float | None] = []
    hour: dict[datetime, datetime] = {}  # the instances of a write share few times
    for entity_id, r in records:
        observed = r.observed_at
        if observed is None or r.deleted_at is not None:
            continue
        entity_ids.append(entity_id)
        names.append(r.name)
        start = hour.get(observed)
        if start is None:
            start = hour[observed] = hour_of(observed)
        hours.append(start)
        datasets.append(r.dataset)
        nums.append(r.num)
    return [*pack(entity_ids, names, datasets), hours, nums] if entity_ids else None


async def recount_hours(
    conn: Any, tenant: str, keys: Iterable[tuple[str, str, datetime | None]]
) -> None:
    """Roll up again the hours of (entity, attribute, observedAt) from their instances: after
    instances were deleted or replaced, a min or max cannot be taken back."""
    hours = sorted({(e, n, hour_of(t)) for e, n, t in keys if t is not None})
    if hours:
        columns = [list(c) for c in zip(*hours, strict=True)]
        await conn.execute(_FORGET_HOURS, tenant, *columns)
        await conn.execute(_RECOUNT_HOURS, tenant, *columns)


async def aggregate_hours(
    conn: Any,
    tenant: str,
    query: TemporalQuery,
    plan: RollupPlan,
    entities: dict[str, TemporalEntity],
    found: AggregatedPeriods,
) -> None:
    """The aggregation from the hourly rollups (`store/rollup.py`), and the instances of a
    last, partial hour: entity by entity (each an ordered scan of its rollups, grouped in
    memory: one grouping of a month of 1,000 sensors sorted 720,000 rows on disk), one row per
    entity and attribute with its buckets as arrays (as many rows as buckets cost several
    times more to fetch) and the count of its instances that are not numbers. The arrays are
    in no set order."""
    period = query.period
    assert period is not None

    def collect(rows: list[Any]) -> None:
        for entity_id, name, others, buckets, *columns in rows:
            found.add_columns(entity_id, name, plan.origin, buckets, columns, others)

    c = Compiled()  # the same parameters serve both statements below
    ids = c.p(sorted(entities))
    origin = f"{c.p(plan.origin)}::timestamptz"
    if period.months:
        bucket = bucket_number(period, "r.hour", origin, c)
    else:  # whole hours from an origin on the hour: whole seconds, exact in float8
        bucket = (
            f"((date_part('epoch', r.hour) - date_part('epoch', {origin}))::bigint "
            f"/ {c.p(round(period.seconds))}::bigint)"
        )
    hours = (
        "SELECT h.name, h.hour, h.count_all, h.count_num, h.sum_num, h.sumsq_num, h.min_num, "
        f"h.max_num FROM instance_hours h WHERE {keys_filter(tenant, query, (), c, 'h')} "
        f"AND h.entity_id = e.id AND h.hour >= {origin}"
    )
    if plan.hours_end is not None:
        hours += f" AND h.hour < {c.p(plan.hours_end)}"
    if period.seconds == 3600 and plan.end is None:
        # each bucket is one hour: unless an hour has several datasetIds, each rollup row is
        # a bucket, read in key order without grouping
        values = ", ".join(f"array_agg({_HOUR_VALUES[m]})" for m in query.aggregate)
        hourly = await conn.fetch(
            f"SELECT e.id, a.* FROM unnest({ids}::text[]) AS e(id) "
            "CROSS JOIN LATERAL (SELECT r.name, sum(r.count_all - r.count_num)::bigint, "
            f"array_agg({bucket}), {values} FROM ({hours}) r GROUP BY 1) a ORDER BY 1, 2",
            *c.params,
        )
        if all(len(set(row[3])) == len(row[3]) for row in hourly):
            collect(hourly)
            return
    if plan.end is not None:
        hours += (
            f" UNION ALL SELECT i.name, {c.p(plan.hours_end)}::timestamptz, count(*), "
            "count(i.num), coalesce(sum(i.num), 0), coalesce(sum(i.num * i.num), 0), "
            "min(i.num), max(i.num) FROM instances i "
            f"WHERE {keys_filter(tenant, query, (), c, 'i')} "
            f"AND i.entity_id = e.id AND i.observed_at IS NOT NULL "
            f"AND i.at >= {c.p(plan.hours_end)} AND i.at < {c.p(plan.end)} "
            "AND i.deleted_at IS NULL GROUP BY 1"
        )
    methods = ", ".join(f"{_ROLLUP_AGGREGATES[m]} AS v{n}" for n, m in enumerate(query.aggregate))
    arrays = ", ".join(f"array_agg(v{n})" for n in range(len(query.aggregate)))
    sql = (
        f"SELECT e.id, a.* FROM unnest({ids}::text[]) AS e(id) "
        "CROSS JOIN LATERAL (SELECT g.name, sum(g.others)::bigint, array_agg(g.bucket), "
        f"{arrays} FROM (SELECT r.name, {bucket} AS bucket, {methods}, "
        f"sum(r.count_all - r.count_num) AS others FROM ({hours}) r GROUP BY 1, 2) g "
        "GROUP BY 1) a ORDER BY 1, 2"
    )
    collect(await conn.fetch(sql, *c.params))
