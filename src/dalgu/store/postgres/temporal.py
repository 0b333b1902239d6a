"""Temporal history in the PostgreSQL store.

Instances live in `instances`, partitioned by calendar month of `at` (observedAt, else
createdAt). A write creates the months it needs inside its own transaction (DDL is
transactional here, and a concurrent creation of the same month fails with a unique violation
that `mutate` retries); `open` creates the current month and the next ones ahead, so live data
never waits for DDL. Retention drops whole months. Filters, `lastN` and every aggregation
method run in SQL; Python only turns rows into documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from dalgu.errors import BadRequestData
from dalgu.query.duration import Duration, add_months
from dalgu.store.base import Change, TemporalEntity, TemporalQuery, TemporalStore
from dalgu.store.history import (
    BucketLists,
    BucketSpans,
    InstanceRecord,
    change_records,
    fill_bucket_lists,
    instance_id,
    parse_instance_id,
    parse_time,
    record,
)
from dalgu.store.postgres.query import Compiled
from dalgu.store.postgres.temporal_filters import (
    TIME_COLUMNS,
    entity_filter,
    instance_filter,
    keys_filter,
)
from dalgu.store.rollup import RollupPlan, hour_of, rollup_plan

MONTHS_AHEAD = 2
# Every statement of a temporal query is planned for its own values: the same text serves one
# sensor and a thousand, and a generic plan made after a few one-sensor queries (asyncpg
# prepares every statement) ran the thousand-sensor aggregation 2.5x slower.
_QUERY_SETTINGS = "SET LOCAL plan_cache_mode = force_custom_plan;"
# Aggregations group in memory: at 4 MB (the default) a month of 1,000 sensors sorts on disk.
_AGGREGATION_SETTINGS = "SET LOCAL work_mem = '64MB';"
_TYPES_SEPARATOR = "\x1f"
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
_COPY_COLUMNS = (
    "tenant",
    "entity_id",
    "name",
    "dataset",
    "at",
    "observed_at",
    "created_at",
    "modified_at",
    "deleted_at",
    "num",
    "txt",
    "doc",
)
_INSERT_GEO = """
INSERT INTO instances (tenant, entity_id, name, dataset, at, observed_at, created_at,
    modified_at, deleted_at, num, txt, doc, geom)
SELECT $1, u.entity_id, u.name, u.dataset, u.at, u.observed_at, u.created_at, u.modified_at,
    u.deleted_at, u.num, u.txt, u.doc,
    ST_SetSRID(ST_MakeValid(ST_GeomFromGeoJSON(u.geometry)), 4326)
FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
    $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::float8[], $11::text[],
    $12::bytea[], $13::text[])
    AS u(entity_id, name, dataset, at, observed_at, created_at, modified_at, deleted_at, num,
         txt, doc, geometry)
"""
_TOUCH = """
INSERT INTO temporal_entities AS t (tenant, id, types, created_at, deleted_at)
SELECT $1, u.id, string_to_array(u.types, E'\\x1f'), u.at, u.deleted_at
FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
    AS u(id, types, at, deleted_at)
ON CONFLICT (tenant, id) DO UPDATE SET types = excluded.types, deleted_at = excluded.deleted_at
WHERE t.types IS DISTINCT FROM excluded.types OR t.deleted_at IS DISTINCT FROM excluded.deleted_at
"""
_ADD_TYPES = """
INSERT INTO temporal_entities AS t (tenant, id, types, created_at)
VALUES ($1, $2, $3::text[], $4)
ON CONFLICT (tenant, id) DO UPDATE SET deleted_at = NULL, types = ARRAY(
    SELECT DISTINCT unnest(t.types || excluded.types) ORDER BY 1)
RETURNING (xmax = 0) AS created
"""
_ROLLUP_COLUMNS = """(tenant, entity_id, name, hour, dataset, count_all, count_num, sum_num,
    sumsq_num, min_num, max_num)"""
# the instances one write added, added to their hours (rows in key order: two writes that
# add to the same hours lock them in the same order)
_ADD_TO_HOURS = f"""
INSERT INTO instance_hours AS h {_ROLLUP_COLUMNS}
SELECT $1, u.entity_id, u.name, u.hour, u.dataset, count(*), count(u.num),
    coalesce(sum(u.num), 0), coalesce(sum(u.num * u.num), 0), min(u.num), max(u.num)
FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::float8[])
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
_PARTITIONS = """
SELECT c.relname FROM pg_inherits h
JOIN pg_class c ON c.oid = h.inhrelid
JOIN pg_class p ON p.oid = h.inhparent
WHERE p.relname = 'instances'
"""


async def rebuild_rollups(conn: Any, tenant: str) -> None:
    """Roll up a tenant's whole history again (after a bulk load that bypassed the store)."""
    async with conn.transaction():
        await conn.execute("DELETE FROM instance_hours WHERE tenant = $1", tenant)
        await conn.execute(_REBUILD_HOURS, tenant)


async def add_to_hours(
    conn: Any, tenant: str, records: Sequence[tuple[str, InstanceRecord]]
) -> None:
    """Add new instances to their hourly rollups (in the transaction that writes them)."""
    rows = [
        (entity_id, r.name, hour_of(r.observed_at), r.dataset, r.num)
        for entity_id, r in records
        if r.observed_at is not None and r.deleted_at is None
    ]
    if rows:
        await conn.execute(_ADD_TO_HOURS, tenant, *map(list, zip(*rows, strict=True)))


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


def month_of(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return datetime(value.year, value.month, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"instances_{month.year:04d}_{month.month:02d}"


class Partitions:
    """The monthly partitions of `instances` this process knows to exist."""

    def __init__(self) -> None:
        self.known: set[str] = set()

    async def load(self, conn: Any) -> None:
        self.known = {name for (name,) in await conn.fetch(_PARTITIONS)}

    async def ensure(self, conn: Any, months: Iterable[datetime]) -> list[str]:
        """Create the missing months (inside the caller's transaction); the names made."""
        made = []
        for month in sorted(set(months)):
            name = partition_name(month)
            if name in self.known:
                continue
            end = add_months(month, 1)
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF instances "
                f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
            )
            made.append(name)
        return made

    def remember(self, names: Iterable[str]) -> None:
        self.known.update(names)


async def write_history(
    conn: Any,
    tenant: str,
    partitions: Partitions,
    changes: Sequence[Change],
    at: str,
) -> list[str]:
    """Record the instances of `changes` (one `mutate` transaction); returns new partitions."""
    touched: dict[str, tuple[str, datetime, datetime | None]] = {}
    records: list[tuple[str, InstanceRecord]] = []
    now = parse_time(at)
    for change in changes:
        entity = change.after or change.before
        assert entity is not None
        types = _TYPES_SEPARATOR.join(entity.get("type", []))
        touched[change.entity_id] = (types, now, now if change.after is None else None)
        records.extend(
            (change.entity_id, r) for r in change_records(change.before, change.after, at)
        )
    await conn.execute(
        _TOUCH,
        tenant,
        list(touched),
        [t[0] for t in touched.values()],
        [t[1] for t in touched.values()],
        [t[2] for t in touched.values()],
    )
    made = await insert_records(conn, tenant, partitions, records)
    await add_to_hours(conn, tenant, records)
    return made


async def insert_records(
    conn: Any, tenant: str, partitions: Partitions, records: Sequence[tuple[str, InstanceRecord]]
) -> list[str]:
    if not records:
        return []
    made = await partitions.ensure(conn, (month_of(r.at) for _, r in records))
    plain = [
        (
            tenant,
            entity_id,
            r.name,
            r.dataset,
            r.at,
            r.observed_at,
            r.created_at,
            r.modified_at,
            r.deleted_at,
            r.num,
            r.txt,
            r.doc,
        )
        for entity_id, r in records
        if r.geometry is None
    ]
    if plain:
        await conn.copy_records_to_table("instances", columns=_COPY_COLUMNS, records=plain)
    shapes = [(entity_id, r) for entity_id, r in records if r.geometry is not None]
    if shapes:
        columns: list[list[Any]] = [[] for _ in range(12)]
        for entity_id, r in shapes:
            values = (
                entity_id,
                r.name,
                r.dataset,
                r.at,
                r.observed_at,
                r.created_at,
                r.modified_at,
                r.deleted_at,
                r.num,
                r.txt,
                r.doc,
                orjson.dumps(r.geometry).decode(),
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        await conn.execute(_INSERT_GEO, tenant, *columns)
    return made


class PostgresTemporal(TemporalStore):
    """Mixed into `PostgresEntityStore`: its pool, its partitions."""

    partitions: Partitions

    @property
    def pool(self) -> Any:  # provided by the entity store
        raise NotImplementedError

    async def _open_history(self, conn: Any) -> None:
        await self.partitions.load(conn)
        month = month_of(datetime.now(UTC))
        ahead = [add_months(month, n) for n in range(MONTHS_AHEAD + 1)]
        async with conn.transaction():
            made = await self.partitions.ensure(conn, ahead)
        self.partitions.remember(made)

    # --- the temporal API ---------------------------------------------------------------

    async def add_instances(
        self,
        tenant: str,
        entity_id: str,
        types: list[str],
        attrs: dict[str, list[Any]],
        *,
        replace_same_time: bool = False,
    ) -> bool:
        now = datetime.now(UTC)
        at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        records = [
            (entity_id, record(name, instance, at, None))
            for name, instances in attrs.items()
            for instance in instances
        ]
        async with self.pool.acquire() as conn:
            for _ in range(5):
                try:
                    async with conn.transaction():
                        created = await conn.fetchval(
                            _ADD_TYPES, tenant, entity_id, sorted(set(types)), now
                        )
                        if replace_same_time:
                            await _replace_same_time(conn, tenant, entity_id, records)
                        made = await insert_records(conn, tenant, self.partitions, records)
                        await recount_hours(
                            conn, tenant, ((e, r.name, r.observed_at) for e, r in records)
                        )
                except asyncpg.UniqueViolationError:
                    continue  # a concurrent write made the same partition: run again
                self.partitions.remember(made)
                return bool(created)
        raise BadRequestData("the history was changed concurrently; retry the request")

    async def temporal_query(
        self, tenant: str, query: TemporalQuery
    ) -> tuple[list[TemporalEntity], int | None]:
        c = Compiled()
        where = entity_filter(tenant, query, c)
        settings = _QUERY_SETTINGS + (_AGGREGATION_SETTINGS if query.aggregate else "")
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(settings)
            try:
                rows = await conn.fetch(
                    f"SELECT t.id, t.types FROM temporal_entities t WHERE {where} "
                    f"ORDER BY t.id {'DESC' if query.descending else 'ASC'} "
                    f"LIMIT {c.p(query.limit)} OFFSET {c.p(query.offset)}",
                    *c.params,
                )
                count = None
                if query.count:
                    counted = Compiled()
                    where = entity_filter(tenant, query, counted)
                    count = await conn.fetchval(
                        f"SELECT count(*) FROM temporal_entities t WHERE {where}", *counted.params
                    )
                entities = {r[0]: TemporalEntity(r[0], list(r[1])) for r in rows}
                if entities and query.aggregate:
                    await _aggregate(conn, tenant, query, entities)
                elif entities:
                    await _instances(conn, tenant, query, entities)
            except asyncpg.InvalidRegularExpressionError as exc:
                raise BadRequestData(f"invalid regular expression: {exc}") from None
        return list(entities.values()), count

    async def delete_history(
        self,
        tenant: str,
        entity_id: str,
        attr: str | None = None,
        *,
        dataset_id: str | None = None,
        delete_all: bool = False,
        instance_id: str | None = None,
    ) -> bool:
        key = "tenant = $1 AND entity_id = $2"
        if attr is None:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(f"DELETE FROM instances WHERE {key}", tenant, entity_id)
                await conn.execute(f"DELETE FROM instance_hours WHERE {key}", tenant, entity_id)
                status = await conn.execute(
                    "DELETE FROM temporal_entities WHERE tenant = $1 AND id = $2",
                    tenant,
                    entity_id,
                )
            return bool(status != "DELETE 0")
        params: list[Any] = [tenant, entity_id, attr]
        where = f"{key} AND name = $3"
        if instance_id is not None:
            iid = parse_instance_id(instance_id)
            if iid is None:
                return False
            where += " AND iid = $4"
            params.append(iid)
        elif not delete_all:
            where += " AND dataset = $4"
            params.append(dataset_id or "")
        async with self.pool.acquire() as conn, conn.transaction():
            gone = await conn.fetch(
                f"DELETE FROM instances WHERE {where} RETURNING observed_at", *params
            )
            if instance_id is not None:
                await recount_hours(conn, tenant, [(entity_id, attr, t) for (t,) in gone])
            else:
                await conn.execute(f"DELETE FROM instance_hours WHERE {where}", *params)
        return bool(gone)

    async def replace_instance(
        self, tenant: str, entity_id: str, attr: str, instance_id: str, instance: dict[str, Any]
    ) -> bool:
        iid = parse_instance_id(instance_id)
        if iid is None:
            return False
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        async with self.pool.acquire() as conn, conn.transaction():
            old = await conn.fetchrow(
                "SELECT dataset, created_at, observed_at FROM instances WHERE tenant = $1 "
                "AND entity_id = $2 AND name = $3 AND iid = $4",
                tenant,
                entity_id,
                attr,
                iid,
            )
            if old is None:
                return False
            if "datasetId" not in instance and old[0]:
                instance = {**instance, "datasetId": old[0]}
            fresh = record(attr, instance, now, None)
            made = await self.partitions.ensure(conn, [month_of(fresh.at)])
            await conn.execute(
                "UPDATE instances SET at = $5, observed_at = $6, modified_at = $7, num = $8, "
                "txt = $9, doc = $10, dataset = $11 "
                "WHERE tenant = $1 AND entity_id = $2 AND name = $3 AND iid = $4",
                tenant,
                entity_id,
                attr,
                iid,
                fresh.observed_at or old[1],
                fresh.observed_at,
                fresh.modified_at,
                fresh.num,
                fresh.txt,
                fresh.doc,
                fresh.dataset,
            )
            hours = [(entity_id, attr, old[2]), (entity_id, attr, fresh.observed_at)]
            await recount_hours(conn, tenant, hours)
        self.partitions.remember(made)
        return True

    async def retention(self, tenant: str | None, older_than: datetime) -> int:
        if tenant is not None:
            hour = hour_of(older_than.astimezone(UTC))
            async with self.pool.acquire() as conn, conn.transaction():
                status = await conn.execute(
                    "DELETE FROM instances WHERE tenant = $1 AND at < $2", tenant, older_than
                )
                await conn.execute(
                    "DELETE FROM instance_hours WHERE tenant = $1 AND hour < $2", tenant, hour
                )
                if hour != older_than:  # the hour of the cutoff keeps its later instances
                    partial = await conn.fetch(
                        "SELECT DISTINCT entity_id, name, hour FROM instance_hours "
                        "WHERE tenant = $1 AND hour = $2",
                        tenant,
                        hour,
                    )
                    await recount_hours(conn, tenant, [tuple(r) for r in partial])
            return int(status.split()[-1])
        dropped = 0
        async with self.pool.acquire() as conn:
            await self.partitions.load(conn)
            for name in sorted(self.partitions.known):
                month = _month_of_partition(name)
                if month is None or add_months(month, 1) > older_than:
                    continue
                async with conn.transaction():
                    count = await conn.fetchval(f"SELECT count(*) FROM {name}")
                    await conn.execute(f"DROP TABLE {name}")
                    await conn.execute(
                        "DELETE FROM instance_hours WHERE hour >= $1 AND hour < $2",
                        month,
                        add_months(month, 1),
                    )
                dropped += count
                self.partitions.known.discard(name)
        return dropped


def _month_of_partition(name: str) -> datetime | None:
    parts = name.removeprefix("instances_").split("_")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return datetime(int(parts[0]), int(parts[1]), 1, tzinfo=UTC)


async def _replace_same_time(
    conn: Any, tenant: str, entity_id: str, records: Sequence[tuple[str, InstanceRecord]]
) -> None:
    timed = [r for _, r in records if r.observed_at is not None]
    if timed:
        await conn.execute(
            "DELETE FROM instances i USING unnest($3::text[], $4::text[], $5::timestamptz[]) "
            "AS u(name, dataset, at) WHERE i.tenant = $1 AND i.entity_id = $2 "
            "AND i.name = u.name AND i.dataset = u.dataset AND i.at = u.at "
            "AND i.observed_at IS NOT NULL",
            tenant,
            entity_id,
            [r.name for r in timed],
            [r.dataset for r in timed],
            [r.at for r in timed],
        )


# --- query compilation ----------------------------------------------------------------------


async def _instances(
    conn: Any, tenant: str, query: TemporalQuery, entities: dict[str, TemporalEntity]
) -> None:
    c = Compiled()
    column = TIME_COLUMNS[query.timeproperty]
    base = (
        f"SELECT i.entity_id, i.iid, i.name, i.doc, {column} AS t FROM instances i "
        f"WHERE i.tenant = {c.p(tenant)} AND i.entity_id = ANY({c.p(list(entities))}::text[])"
        f"{instance_filter(query, c)}"
    )
    limit = query.per_attribute
    if limit is None:
        sql = base + " ORDER BY 1, 3, 5, 2"
    else:
        order = "DESC" if query.last_n else "ASC"
        sql = (
            "SELECT entity_id, iid, name, doc, t FROM (SELECT i.entity_id, i.iid, i.name, i.doc, "
            f"{column} AS t, row_number() OVER (PARTITION BY i.entity_id, i.name "
            f"ORDER BY {column} {order}, i.iid {order}) AS rank "
            + base[base.index(" FROM instances i") :]
            + f") s WHERE rank <= {c.p(limit)} ORDER BY 1, 3, 5, 2"
        )
    for entity_id, iid, name, doc, _ in await conn.fetch(sql, *c.params):
        instance = orjson.loads(doc)
        instance["instanceId"] = instance_id(iid)
        entities[entity_id].instances.setdefault(name, []).append(instance)


async def _aggregate(
    conn: Any, tenant: str, query: TemporalQuery, entities: dict[str, TemporalEntity]
) -> None:
    plan = rollup_plan(query)
    if plan is not None:
        await _aggregate_hours(conn, tenant, query, plan, entities)
        return
    c = Compiled()
    column = TIME_COLUMNS[query.timeproperty]
    where = (
        f"i.tenant = {c.p(tenant)} AND i.entity_id = ANY({c.p(list(entities))}::text[])"
        f"{instance_filter(query, c)} AND i.deleted_at IS NULL"
    )
    methods = ", ".join(_AGGREGATES[m] for m in query.aggregate)
    period = query.period
    whole = period is None or period.is_zero
    spans = BucketSpans(query)
    lists = BucketLists(entities, query.aggregate)  # values as SQL gives them: float8, bigint
    if query.timerel in ("after", "between") and query.time_at is not None:
        # the origin is the query's: one grouping pass, no per-entity origin to join
        origin = parse_time(query.time_at)
        bucket = "0" if whole else _bucket(period, column, f"{c.p(origin)}::timestamptz", c)
        sql = (
            f"SELECT i.entity_id, i.name, {bucket} AS bucket, "
            f"{f'max({column})' if whole else 'NULL'}, "
            f"{methods} FROM instances i WHERE {where} "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        for entity_id, name, index, last, *values in await conn.fetch(sql, *c.params):
            span = spans(origin, last if whole else origin, index)
            for out, value in zip(lists(entity_id, name), values, strict=True):
                out.append([value, *span])
        return
    rows = f"SELECT i.entity_id, i.name, {column} AS t, i.num, i.txt FROM instances i WHERE {where}"
    bucket = _bucket(period, "r.t", "o.origin", c)
    sql = (
        f"WITH r AS ({rows}), o AS (SELECT r.entity_id, min(r.t) AS origin, max(r.t) AS last "
        "FROM r GROUP BY r.entity_id) "
        f"SELECT r.entity_id, r.name, {bucket} AS bucket, o.origin, o.last, {methods} "
        "FROM r JOIN o ON o.entity_id = r.entity_id "
        "GROUP BY r.entity_id, r.name, bucket, o.origin, o.last ORDER BY 1, 2, 3"
    )
    for entity_id, name, index, start, last, *values in await conn.fetch(sql, *c.params):
        span = spans(start, last, index)
        for out, value in zip(lists(entity_id, name), values, strict=True):
            out.append([value, *span])


async def _aggregate_hours(
    conn: Any,
    tenant: str,
    query: TemporalQuery,
    plan: RollupPlan,
    entities: dict[str, TemporalEntity],
) -> None:
    """The aggregation from the hourly rollups (`store/rollup.py`), and the instances of a
    last, partial hour: entity by entity (each an ordered scan of its rollups, grouped in
    memory: one grouping of a month of 1,000 sensors sorted 720,000 rows on disk), one row per
    entity and attribute with its buckets as arrays (as many rows as buckets cost several
    times more to fetch). The arrays are in no set order: `fill_bucket_lists` orders them."""
    period = query.period
    assert period is not None
    spans = BucketSpans(query)

    def span(index: int) -> list[str]:
        return spans(plan.origin, plan.origin, index)

    c = Compiled()  # the same parameters serve both statements below
    ids = c.p(sorted(entities))
    origin = f"{c.p(plan.origin)}::timestamptz"
    if period.months:
        bucket = _bucket(period, "r.hour", origin, c)
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
            f"CROSS JOIN LATERAL (SELECT r.name, array_agg({bucket}), {values} "
            f"FROM ({hours}) r GROUP BY 1) a ORDER BY 1, 2",
            *c.params,
        )
        if all(len(set(row[2])) == len(row[2]) for row in hourly):
            fill_bucket_lists(entities, query.aggregate, hourly, span)
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
        f"CROSS JOIN LATERAL (SELECT g.name, array_agg(g.bucket), {arrays} "
        f"FROM (SELECT r.name, {bucket} AS bucket, {methods} FROM ({hours}) r GROUP BY 1, 2) g "
        "GROUP BY 1) a ORDER BY 1, 2"
    )
    fill_bucket_lists(entities, query.aggregate, await conn.fetch(sql, *c.params), span)


def _bucket(period: Duration | None, t: str, origin: str, c: Compiled) -> str:
    """SQL for the number of the bucket of `t` counted from `origin`: whole calendar months,
    or whole periods of exact microseconds (integer arithmetic, no rounding at the bounds)."""
    if period is None or period.is_zero:
        return "0"
    if period.months:
        age = f"age({t} AT TIME ZONE 'UTC', {origin} AT TIME ZONE 'UTC')"
        return (
            f"floor((date_part('year', {age}) * 12 + date_part('month', {age})) "
            f"/ {c.p(period.months)})::bigint"
        )
    micros = max(1, round(period.seconds * 1_000_000))
    return f"((extract(epoch FROM {t} - {origin}) * 1000000)::bigint / {c.p(micros)}::bigint)"
