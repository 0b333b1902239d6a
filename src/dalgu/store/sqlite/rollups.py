"""Hourly rollups of the temporal history on SQLite (`store/rollup.py`): kept in the write
transactions of the instances, and aggregations read from them."""

from __future__ import annotations

import calendar
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from dalgu.store.base import TemporalEntity, TemporalQuery
from dalgu.store.history import parse_time
from dalgu.store.periods import AggregatedPeriods
from dalgu.store.rollup import HOUR, RollupPlan
from dalgu.store.sqlite.temporal_filters import (
    Params,
    bucket_number,
    canon,
    canon_time,
    keys_filter,
)

_ROLLUP_COLUMNS = (
    "tenant, entity_id, name, hour, dataset, count_all, count_num, sum_num, sumsq_num, "
    "min_num, max_num"
)
#: the rollup rows of instances (append a condition and the GROUP BY)
_ROLL_UP = (
    f"INSERT INTO instance_hours ({_ROLLUP_COLUMNS}) "
    "SELECT tenant, entity_id, name, "
    "CAST(strftime('%s', substr(observed_at, 1, 13) || ':00:00') AS INTEGER), dataset, "
    "count(*), count(num), coalesce(sum(num), 0), coalesce(sum(num * num), 0), min(num), "
    "max(num) FROM instances WHERE observed_at IS NOT NULL AND deleted_at IS NULL"
)
_GROUP_HOURS = " GROUP BY 1, 2, 3, 4, 5"
# new instances of one hour (of one entity, attribute and datasetId) added to its rollup
ADD_TO_HOUR = (
    f"INSERT INTO instance_hours ({_ROLLUP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant, entity_id, name, hour, dataset) DO UPDATE SET "
    "count_all = count_all + excluded.count_all, count_num = count_num + excluded.count_num, "
    "sum_num = sum_num + excluded.sum_num, sumsq_num = sumsq_num + excluded.sumsq_num, "
    "min_num = coalesce(min(min_num, excluded.min_num), min_num, excluded.min_num), "
    "max_num = coalesce(max(max_num, excluded.max_num), max_num, excluded.max_num)"
)
# aggregation methods over rollup rows: the same values as `_AGGREGATES` over the instances
_ROLLUP_AGGREGATES = {
    "totalCount": "sum(count_all)",
    "sum": "CASE WHEN sum(count_num) > 0 THEN sum(sum_num) END",
    "avg": "CASE WHEN sum(count_num) > 0 THEN sum(sum_num) / sum(count_num) END",
    "min": "min(min_num)",
    "max": "max(max_num)",
    "stddev": "CASE WHEN sum(count_num) > 1 THEN sqrt(max((sum(sumsq_num) - sum(sum_num) "
    "* sum(sum_num) / sum(count_num)) / (sum(count_num) - 1), 0)) ELSE 0.0 END",
    "sumsq": "CASE WHEN sum(count_num) > 0 THEN sum(sumsq_num) END",
}
# the same over one rollup row: the bucket of an hourly aggregation is one hour
_HOUR_VALUES = {
    "totalCount": "count_all",
    "sum": "CASE WHEN count_num > 0 THEN sum_num END",
    "avg": "CASE WHEN count_num > 0 THEN sum_num / count_num END",
    "min": "min_num",
    "max": "max_num",
    "stddev": "CASE WHEN count_num > 1 THEN sqrt(max((sumsq_num - sum_num * sum_num / count_num) "
    "/ (count_num - 1), 0)) ELSE 0.0 END",
    "sumsq": "CASE WHEN count_num > 0 THEN sumsq_num END",
}


def rebuild_rollups(db: sqlite3.Connection, tenant: str) -> None:
    """Roll up a tenant's whole history again (after a bulk load that bypassed the store)."""
    db.execute("DELETE FROM instance_hours WHERE tenant = ?", (tenant,))
    db.execute(f"{_ROLL_UP} AND tenant = ?{_GROUP_HOURS}", (tenant,))


def hour_number(observed_at: str) -> int:
    """The Unix time of the start of the hour of a canonical time: a rollup's `hour`."""
    return _hour_of_prefix(observed_at[:13])


@lru_cache(maxsize=4096)
def _hour_of_prefix(prefix: str) -> int:
    return calendar.timegm(parse_time(prefix + ":00:00Z").timetuple())


def hour_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The `ADD_TO_HOUR` parameters of new `instances` rows (those observed, not deletions):
    one per rollup row, the instances of one hour added up first (a commit that holds several
    readings of a sensor updates its hour once)."""
    hours: dict[tuple[Any, ...], list[Any]] = {}
    for tenant, entity_id, name, dataset, _, observed, _, _, deleted, num, *_ in rows:
        if observed is None or deleted is not None:
            continue
        key = (tenant, entity_id, name, _hour_of_prefix(observed[:13]), dataset)
        sums = hours.get(key)
        if sums is None:
            hours[key] = (
                [1, 0, 0.0, 0.0, None, None] if num is None else [1, 1, num, num * num, num, num]
            )
            continue
        sums[0] += 1
        if num is not None:
            sums[1] += 1
            sums[2] += num
            sums[3] += num * num
            sums[4] = num if sums[4] is None else min(sums[4], num)
            sums[5] = num if sums[5] is None else max(sums[5], num)
    return [(*key, *sums) for key, sums in hours.items()]


def hour_bounds(hour: int) -> tuple[str, str]:
    """[start, end) of a rollup's hour, canonical."""
    start = datetime.fromtimestamp(hour, UTC)
    return canon_time(start), canon_time(start + HOUR)


def _number_text(value: str) -> str:
    """SQL: a value as JSON text in a `group_concat`: integers as they are, NULL as null,
    reals with 18 significant digits (SQLite's `%!.17g` missed the last bit of about one
    random double in 700, `%!.18g` gave every one of 200,000 back exactly)."""
    return (
        f"CASE WHEN {value} IS NULL THEN 'null' WHEN typeof({value}) = 'integer' THEN {value} "
        f"ELSE printf('%!.18g', {value}) END"
    )


def recount_hours(
    db: sqlite3.Connection, tenant: str, keys: Iterable[tuple[str, str, str | None]]
) -> None:
    """Roll up again the hours of (entity, attribute, canonical observedAt) from the
    instances (inside the caller's transaction): after instances were deleted or
    replaced, a min or max cannot be taken back."""
    for entity_id, name, hour in {(e, n, hour_number(t)) for e, n, t in keys if t}:
        key = (tenant, entity_id, name)
        db.execute(
            "DELETE FROM instance_hours WHERE tenant = ? AND entity_id = ? AND name = ? "
            "AND hour = ?",
            (*key, hour),
        )
        db.execute(
            f"{_ROLL_UP} AND tenant = ? AND entity_id = ? AND name = ? AND observed_at >= ? "
            f"AND observed_at < ?{_GROUP_HOURS}",
            (*key, *hour_bounds(hour)),
        )


def aggregate_hours(
    db: sqlite3.Connection,
    tenant: str,
    query: TemporalQuery,
    plan: RollupPlan,
    entities: dict[str, TemporalEntity],
    found: AggregatedPeriods,
) -> None:
    """The aggregation from the hourly rollups (`store/rollup.py`), and the instances of
    a last, partial hour: one row per entity and attribute, its buckets' numbers and
    values as JSON text (a month of 1,000 sensors is 720,000 buckets: as many rows cost
    several times more to fetch), and the count of its instances that are not numbers."""
    period = query.period
    assert period is not None
    if period.seconds == 3600 and plan.end is None:
        # each bucket is one hour: unless an hour has several datasetIds, each rollup row
        # is a bucket, read in key order without grouping
        hourly = _hours_as_buckets(db, tenant, query, plan, entities)
        if all(len(set(row[3])) == len(row[3]) for row in hourly):
            _collect(plan, found, hourly)
            return
    c = Params()
    origin = calendar.timegm(plan.origin.timetuple())
    if period.months:  # placeholders in text order
        hour = "strftime('%Y-%m-%dT%H:%M:%S.000000Z', h.hour, 'unixepoch')"
        bucket = bucket_number(period, hour, c)
    else:
        bucket = f"((h.hour - o.seconds) / {c.p(round(period.seconds))})"
    methods = ", ".join(f"{_ROLLUP_AGGREGATES[m]} AS v{n}" for n, m in enumerate(query.aggregate))
    methods += ", sum(count_all - count_num) AS others"
    hours = (
        "SELECT entity_id, name, hour, count_all, count_num, sum_num, sumsq_num, min_num, "
        f"max_num FROM instance_hours WHERE {keys_filter(tenant, query, entities, c)} "
        f"AND hour >= {c.p(origin)}"
    )
    if plan.hours_end is not None:
        hours += f" AND hour < {c.p(calendar.timegm(plan.hours_end.timetuple()))}"
    if plan.end is not None:
        assert plan.hours_end is not None
        hours += (
            " UNION ALL SELECT entity_id, name, "
            f"{c.p(calendar.timegm(plan.hours_end.timetuple()))}, count(*), "
            "count(num), coalesce(sum(num), 0), coalesce(sum(num * num), 0), min(num), "
            f"max(num) FROM instances WHERE {keys_filter(tenant, query, entities, c)} "
            f"AND observed_at >= {c.p(canon(plan.hours_end))} "
            f"AND observed_at < {c.p(canon(plan.end))} AND deleted_at IS NULL "
            "GROUP BY entity_id, name"
        )
    grouped = (
        f"SELECT h.entity_id AS entity_id, h.name AS name, {bucket} AS bucket, {methods} "
        f"FROM ({hours}) h, (SELECT {c.p(canon(plan.origin))} AS origin, "
        f"{c.p(origin)} AS seconds) o GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    columns = ", ".join(
        f"group_concat({_number_text(f'v{n}')})" for n in range(len(query.aggregate))
    )
    sql = (
        f"SELECT entity_id, name, sum(others), group_concat(bucket), {columns} "
        f"FROM ({grouped}) GROUP BY 1, 2 ORDER BY 1, 2"
    )
    _collect(plan, found, _lists(db, sql, c.params))


def _hours_as_buckets(
    db: sqlite3.Connection,
    tenant: str,
    query: TemporalQuery,
    plan: RollupPlan,
    entities: dict[str, TemporalEntity],
) -> list[tuple[Any, ...]]:
    c = Params()
    origin = calendar.timegm(plan.origin.timetuple())
    columns = ", ".join(f"group_concat({_number_text(_HOUR_VALUES[m])})" for m in query.aggregate)
    sql = (
        "SELECT entity_id, name, sum(count_all - count_num), "
        f"group_concat((hour - {c.p(origin)}) / 3600), {columns} "
        f"FROM instance_hours WHERE {keys_filter(tenant, query, entities, c)} "
        f"AND hour >= {c.p(origin)}"
    )
    if plan.hours_end is not None:
        sql += f" AND hour < {c.p(calendar.timegm(plan.hours_end.timetuple()))}"
    return _lists(db, sql + " GROUP BY entity_id, name ORDER BY 1, 2", c.params)


def _lists(db: sqlite3.Connection, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Rows of (entity, attribute, others, JSON texts of numbers) as rows of lists."""
    return [
        (entity_id, name, others, *(orjson.loads(f"[{text}]") for text in texts))
        for entity_id, name, others, *texts in db.execute(sql, params)
    ]


def _collect(plan: RollupPlan, found: AggregatedPeriods, rows: list[tuple[Any, ...]]) -> None:
    for entity_id, name, others, buckets, *columns in rows:
        found.add_columns(entity_id, name, plan.origin, buckets, columns, others)
