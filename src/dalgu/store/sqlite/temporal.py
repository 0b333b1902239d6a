"""Temporal history in the SQLite store: instances recorded per change, queried by time.

Times are stored in one canonical UTC form so that ranges compare as text; `lastN`, `q`,
`geoQ` and aggregation run in SQL (geometries through the registered `geo_match`).
"""

from __future__ import annotations

import calendar
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
import shapely

from dalgu.query.ast import GeoQuery, TypeAnd, TypeExpr, TypeName
from dalgu.query.duration import Duration
from dalgu.store.base import Change, Entity, TemporalEntity, TemporalQuery, TemporalStore
from dalgu.store.history import (
    BucketLists,
    BucketSpans,
    InstanceRecord,
    changed_instances,
    fill_bucket_lists,
    instance_id,
    instance_value,
    parse_instance_id,
    parse_time,
    record,
)
from dalgu.store.rollup import HOUR, RollupPlan, rollup_plan
from dalgu.store.sqlite.lock import begin
from dalgu.store.temporal_q import q_sql

_TIME_COLUMNS = {
    "observedAt": "observed_at",
    "createdAt": "created_at",
    "modifiedAt": "modified_at",
    "deletedAt": "deleted_at",
}
_AGGREGATES = {
    "totalCount": "count(*)",
    "distinctCount": "count(DISTINCT coalesce(num, txt))",
    "sum": "sum(num)",
    "avg": "avg(num)",
    "min": "min(num)",
    "max": "max(num)",
    "stddev": "CASE WHEN count(num) > 1 THEN sqrt(max((sum(num * num) - sum(num) * sum(num) "
    "/ count(num)) / (count(num) - 1), 0)) ELSE 0 END",
    "sumsq": "sum(num * num)",
}
_INSERT = (
    "INSERT INTO instances (tenant, entity_id, name, dataset, at, observed_at, created_at, "
    "modified_at, deleted_at, num, txt, geometry, doc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_TOUCH = (
    "INSERT INTO temporal_entities (tenant, id, types, created_at, deleted_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET "
    "types = excluded.types, deleted_at = excluded.deleted_at "
    # an entity's every change touches its row: rewrite it (and dirty its page) only when
    # something changed
    "WHERE types IS NOT excluded.types OR deleted_at IS NOT excluded.deleted_at"
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
# one new instance added to its hour
_ADD_TO_HOUR = (
    f"INSERT INTO instance_hours ({_ROLLUP_COLUMNS}) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant, entity_id, name, hour, dataset) DO UPDATE SET "
    "count_all = count_all + 1, count_num = count_num + excluded.count_num, "
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
    "* sum(sum_num) / sum(count_num)) / (sum(count_num) - 1), 0)) ELSE 0 END",
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
    "/ (count_num - 1), 0)) ELSE 0 END",
    "sumsq": "CASE WHEN count_num > 0 THEN sumsq_num END",
}


def rebuild_rollups(db: sqlite3.Connection, tenant: str) -> None:
    """Roll up a tenant's whole history again (after a bulk load that bypassed the store)."""
    db.execute("DELETE FROM instance_hours WHERE tenant = ?", (tenant,))
    db.execute(f"{_ROLL_UP} AND tenant = ?{_GROUP_HOURS}", (tenant,))


class _Params:
    def __init__(self) -> None:
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        self.params.append(value)
        return "?"


def _canon(value: datetime | None) -> str | None:
    return None if value is None else _canon_time(value)


@lru_cache(maxsize=4096)  # the few times of one write repeat in each of its instances
def _canon_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@lru_cache(maxsize=4096)
def _canon_text(text: str) -> str:
    return _canon_time(parse_time(text))


def _hour_number(observed_at: str) -> int:
    """The Unix time of the start of the hour of a canonical time: a rollup's `hour`."""
    return _hour_of_prefix(observed_at[:13])


@lru_cache(maxsize=4096)
def _hour_of_prefix(prefix: str) -> int:
    return calendar.timegm(parse_time(prefix + ":00:00Z").timetuple())


def _hour_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The `_ADD_TO_HOUR` parameters of new `instances` rows (those observed, not deletions)."""
    return [
        (
            tenant,
            entity_id,
            name,
            _hour_of_prefix(observed[:13]),
            dataset,
            0 if num is None else 1,
            0.0 if num is None else num,
            0.0 if num is None else num * num,
            num,
            num,
        )
        for tenant, entity_id, name, dataset, _, observed, _, _, deleted, num, *_ in rows
        if observed is not None and deleted is None
    ]


def _hour_bounds(hour: int) -> tuple[str, str]:
    """[start, end) of a rollup's hour, canonical."""
    start = datetime.fromtimestamp(hour, UTC)
    return _canon_time(start), _canon_time(start + HOUR)


def _number_text(value: str) -> str:
    """SQL: a value as JSON text in a `group_concat`: integers as they are, NULL as null,
    reals with 18 significant digits (SQLite's `%!.17g` missed the last bit of about one
    random double in 700, `%!.18g` gave every one of 200,000 back exactly)."""
    return (
        f"CASE WHEN {value} IS NULL THEN 'null' WHEN typeof({value}) = 'integer' THEN {value} "
        f"ELSE printf('%!.18g', {value}) END"
    )


def _instance_row(
    tenant: str,
    entity_id: str,
    name: str,
    instance: dict[str, Any],
    at: str,
    deleted: str | None,
) -> tuple[Any, ...]:
    """The `instances` row of one instance: `_row(record(...))` without the datetimes."""
    num, txt, geometry = instance_value(instance)
    observed = instance.get("observedAt")
    observed_at = _canon_text(observed) if isinstance(observed, str) else None
    created_at = _canon_text(instance.get("createdAt") or at)
    return (
        tenant,
        entity_id,
        name,
        instance.get("datasetId", ""),
        observed_at or created_at,
        observed_at,
        created_at,
        _canon_text(instance.get("modifiedAt") or at),
        _canon_text(deleted) if deleted else None,
        num,
        txt,
        None if geometry is None else orjson.dumps(geometry),
        orjson.dumps(instance),
    )


def _row(tenant: str, entity_id: str, r: InstanceRecord) -> tuple[Any, ...]:
    return (
        tenant,
        entity_id,
        r.name,
        r.dataset,
        _canon(r.at),
        _canon(r.observed_at),
        _canon(r.created_at),
        _canon(r.modified_at),
        _canon(r.deleted_at),
        r.num,
        r.txt,
        None if r.geometry is None else orjson.dumps(r.geometry),
        r.doc,
    )


class SqliteTemporal(TemporalStore):
    """Mixed into `SqliteEntityStore`: shares its connection and transactions."""

    @property
    def db(self) -> sqlite3.Connection:  # provided by the entity store
        raise NotImplementedError

    # --- recording (inside the entity store's transaction) ------------------------------

    def _record_history(self, tenant: str, changes: Iterable[Change], at: str) -> None:
        rows: list[tuple[Any, ...]] = []
        entities: dict[str, tuple[Any, ...]] = {}
        for change in changes:
            entity = change.after or change.before
            assert entity is not None
            entities[change.entity_id] = _entity_row(
                tenant, entity, at, deleted=change.after is None
            )
            entity_id = change.entity_id
            rows.extend(
                _instance_row(tenant, entity_id, name, instance, at, deleted)
                for name, instance, deleted in changed_instances(change.before, change.after, at)
            )
        self.db.executemany(_TOUCH, self._touched(tenant, entities))
        if rows:
            self.db.executemany(_INSERT, rows)
            self.db.executemany(_ADD_TO_HOUR, _hour_rows(rows))

    def _touched(self, tenant: str, rows: dict[str, tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The `temporal_entities` rows to write: the entity's every change touches its row,
        which changes far less often (its types, its deletion); reading the rows of a batch
        costs a third of trying to write each."""
        ids = list(rows)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for entity_id, types, deleted_at in self.db.execute(
                "SELECT id, types, deleted_at FROM temporal_entities "
                f"WHERE tenant = ? AND id IN ({marks})",
                (tenant, *chunk),
            ):
                row = rows[entity_id]
                if deleted_at is None and row[4] is None and types == row[2]:
                    del rows[entity_id]
        return list(rows.values())

    def _recount_hours(self, tenant: str, keys: Iterable[tuple[str, str, str | None]]) -> None:
        """Roll up again the hours of (entity, attribute, canonical observedAt) from the
        instances (inside the caller's transaction): after instances were deleted or
        replaced, a min or max cannot be taken back."""
        for entity_id, name, hour in {(e, n, _hour_number(t)) for e, n, t in keys if t}:
            key = (tenant, entity_id, name)
            self.db.execute(
                "DELETE FROM instance_hours WHERE tenant = ? AND entity_id = ? AND name = ? "
                "AND hour = ?",
                (*key, hour),
            )
            self.db.execute(
                f"{_ROLL_UP} AND tenant = ? AND entity_id = ? AND name = ? AND observed_at >= ? "
                f"AND observed_at < ?{_GROUP_HOURS}",
                (*key, *_hour_bounds(hour)),
            )

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
        db = self.db
        now = _now()
        records = [
            record(name, instance, now, None)
            for name, instances in attrs.items()
            for instance in instances
        ]
        await begin(db)
        try:
            existed = db.execute(
                "SELECT types FROM temporal_entities WHERE tenant = ? AND id = ?",
                (tenant, entity_id),
            ).fetchone()
            known = orjson.loads(existed[0]) if existed else []
            merged = sorted(set(known) | set(types))
            db.execute(_TOUCH, (tenant, entity_id, orjson.dumps(merged), now, None))
            if replace_same_time:
                db.executemany(
                    "DELETE FROM instances WHERE tenant = ? AND entity_id = ? AND name = ? "
                    "AND dataset = ? AND observed_at = ?",
                    [
                        (tenant, entity_id, r.name, r.dataset, _canon(r.observed_at))
                        for r in records
                        if r.observed_at is not None
                    ],
                )
            db.executemany(_INSERT, [_row(tenant, entity_id, r) for r in records])
            self._recount_hours(
                tenant, ((entity_id, r.name, _canon(r.observed_at)) for r in records)
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return existed is None

    async def temporal_query(
        self, tenant: str, query: TemporalQuery
    ) -> tuple[list[TemporalEntity], int | None]:
        c = _Params()
        where = _entity_filter(tenant, query, c)
        direction = "DESC" if query.descending else "ASC"
        rows = self.db.execute(
            f"SELECT id, types FROM temporal_entities t WHERE {where} "
            f"ORDER BY id {direction} LIMIT ? OFFSET ?",
            (*c.params, query.limit, query.offset),
        ).fetchall()
        count = None
        if query.count:
            (count,) = self.db.execute(
                f"SELECT count(*) FROM temporal_entities t WHERE {where}", c.params
            ).fetchone()
        entities = {r[0]: TemporalEntity(r[0], orjson.loads(r[1])) for r in rows}
        if entities and query.aggregate:
            self._aggregate(tenant, query, entities)
        elif entities:
            self._instances(tenant, query, entities)
        return list(entities.values()), count

    def _instances(
        self, tenant: str, query: TemporalQuery, entities: dict[str, TemporalEntity]
    ) -> None:
        c = _Params()
        column = _TIME_COLUMNS[query.timeproperty]
        tenant_mark = c.p(tenant)
        marks = ",".join(c.p(e) for e in entities)
        base = (
            f"SELECT entity_id, iid, name, doc, {column} AS t FROM instances i WHERE "
            f"tenant = {tenant_mark} AND entity_id IN ({marks}){_instance_filter(query, c)}"
        )
        limit = query.per_attribute
        if limit is None:
            sql = base + " ORDER BY entity_id, name, t, iid"
        else:
            order = "DESC" if query.last_n else "ASC"
            sql = (
                "SELECT entity_id, iid, name, doc, t FROM (SELECT *, row_number() OVER "
                f"(PARTITION BY entity_id, name ORDER BY t {order}, iid {order}) AS rank "
                f"FROM ({base})) WHERE rank <= {c.p(limit)} ORDER BY entity_id, name, t, iid"
            )
        for entity_id, iid, name, doc, _ in self.db.execute(sql, c.params):
            instance = orjson.loads(doc)
            instance["instanceId"] = instance_id(iid)
            entities[entity_id].instances.setdefault(name, []).append(instance)

    def _aggregate(
        self, tenant: str, query: TemporalQuery, entities: dict[str, TemporalEntity]
    ) -> None:
        plan = rollup_plan(query)
        if plan is not None:
            self._aggregate_hours(tenant, query, plan, entities)
            return
        column = _TIME_COLUMNS[query.timeproperty]
        methods = ", ".join(_AGGREGATES[m] for m in query.aggregate)
        period = query.period
        spans = BucketSpans(query)
        lists = BucketLists(entities, query.aggregate)
        if query.timerel in ("after", "between") and query.time_at is not None:
            # the origin is the query's: one grouping pass, no per-entity origin to join
            origin = parse_time(query.time_at)
            c = _Params()
            bucket = _bucket(period, column, c)  # placeholders in text order
            whole = period is None or period.is_zero  # one bucket, ending at the last instance
            sql = (
                f"SELECT entity_id, name, {bucket} AS bucket, "
                f"{f'max({column})' if whole else 'NULL'}, {methods} "
                f"FROM instances i, (SELECT {c.p(_canon(origin))} AS origin, "
                f"{c.p(calendar.timegm(origin.timetuple()))} AS seconds) o "
                f"WHERE {_rows_filter(tenant, query, entities, c)} "
                "GROUP BY entity_id, name, bucket ORDER BY 1, 2, 3"
            )
            for entity_id, name, index, last, *values in self.db.execute(sql, c.params):
                span = spans(origin, parse_time(last) if whole else origin, index)
                for out, value in zip(lists(entity_id, name), values, strict=True):
                    out.append([value, *span])
            return
        c = _Params()
        rows = (
            f"SELECT entity_id, name, {column} AS t, num, txt FROM instances i WHERE "
            f"{_rows_filter(tenant, query, entities, c)}"
        )
        bucket = _bucket(period, "r.t", c)
        sql = (
            f"WITH r AS ({rows}), o AS (SELECT entity_id, origin, last, "
            "CAST(strftime('%s', origin) AS INTEGER) AS seconds "
            "FROM (SELECT entity_id, min(t) AS origin, max(t) AS last FROM r GROUP BY entity_id)) "
            f"SELECT r.entity_id, r.name, {bucket} AS bucket, o.origin, o.last, {methods} "
            "FROM r JOIN o ON o.entity_id = r.entity_id "
            "GROUP BY r.entity_id, r.name, bucket ORDER BY 1, 2, 3"
        )
        for entity_id, name, index, start, last, *values in self.db.execute(sql, c.params):
            span = spans(parse_time(start), parse_time(last), index)
            for out, value in zip(lists(entity_id, name), values, strict=True):
                out.append([value, *span])

    def _aggregate_hours(
        self,
        tenant: str,
        query: TemporalQuery,
        plan: RollupPlan,
        entities: dict[str, TemporalEntity],
    ) -> None:
        """The aggregation from the hourly rollups (`store/rollup.py`), and the instances of
        a last, partial hour: one row per entity and attribute, its buckets' numbers and
        values as JSON text (a month of 1,000 sensors is 720,000 buckets: as many rows cost
        several times more to fetch)."""
        period = query.period
        assert period is not None
        if period.seconds == 3600 and plan.end is None:
            # each bucket is one hour: unless an hour has several datasetIds, each rollup row
            # is a bucket, read in key order without grouping
            hourly = self._hours_as_buckets(tenant, query, plan, entities)
            if all(len(set(row[2])) == len(row[2]) for row in hourly):
                self._fill(query, plan, entities, hourly)
                return
        c = _Params()
        origin = calendar.timegm(plan.origin.timetuple())
        if period.months:  # placeholders in text order
            hour = "strftime('%Y-%m-%dT%H:%M:%S.000000Z', h.hour, 'unixepoch')"
            bucket = _bucket(period, hour, c)
        else:
            bucket = f"((h.hour - o.seconds) / {c.p(round(period.seconds))})"
        methods = ", ".join(
            f"{_ROLLUP_AGGREGATES[m]} AS v{n}" for n, m in enumerate(query.aggregate)
        )
        hours = (
            "SELECT entity_id, name, hour, count_all, count_num, sum_num, sumsq_num, min_num, "
            f"max_num FROM instance_hours WHERE {_keys_filter(tenant, query, entities, c)} "
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
                f"max(num) FROM instances WHERE {_keys_filter(tenant, query, entities, c)} "
                f"AND observed_at >= {c.p(_canon(plan.hours_end))} "
                f"AND observed_at < {c.p(_canon(plan.end))} AND deleted_at IS NULL "
                "GROUP BY entity_id, name"
            )
        grouped = (
            f"SELECT h.entity_id AS entity_id, h.name AS name, {bucket} AS bucket, {methods} "
            f"FROM ({hours}) h, (SELECT {c.p(_canon(plan.origin))} AS origin, "
            f"{c.p(origin)} AS seconds) o GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        columns = ", ".join(
            f"group_concat({_number_text(f'v{n}')})" for n in range(len(query.aggregate))
        )
        sql = (
            f"SELECT entity_id, name, group_concat(bucket), {columns} FROM ({grouped}) "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
        self._fill(query, plan, entities, self._lists(sql, c.params))

    def _hours_as_buckets(
        self,
        tenant: str,
        query: TemporalQuery,
        plan: RollupPlan,
        entities: dict[str, TemporalEntity],
    ) -> list[tuple[Any, ...]]:
        c = _Params()
        origin = calendar.timegm(plan.origin.timetuple())
        columns = ", ".join(
            f"group_concat({_number_text(_HOUR_VALUES[m])})" for m in query.aggregate
        )
        sql = (
            f"SELECT entity_id, name, group_concat((hour - {c.p(origin)}) / 3600), {columns} "
            f"FROM instance_hours WHERE {_keys_filter(tenant, query, entities, c)} "
            f"AND hour >= {c.p(origin)}"
        )
        if plan.hours_end is not None:
            sql += f" AND hour < {c.p(calendar.timegm(plan.hours_end.timetuple()))}"
        return self._lists(sql + " GROUP BY entity_id, name ORDER BY 1, 2", c.params)

    def _lists(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """Rows of (entity, attribute, JSON texts of numbers) as rows of lists."""
        return [
            (entity_id, name, *(orjson.loads(f"[{text}]") for text in texts))
            for entity_id, name, *texts in self.db.execute(sql, params)
        ]

    def _fill(
        self,
        query: TemporalQuery,
        plan: RollupPlan,
        entities: dict[str, TemporalEntity],
        rows: list[tuple[Any, ...]],
    ) -> None:
        spans = BucketSpans(query)
        fill_bucket_lists(
            entities,
            query.aggregate,
            rows,
            lambda index: spans(plan.origin, plan.origin, index),
        )

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
        db = self.db
        if attr is None:
            await begin(db)
            try:
                db.execute(
                    "DELETE FROM instances WHERE tenant = ? AND entity_id = ?", (tenant, entity_id)
                )
                db.execute(
                    "DELETE FROM instance_hours WHERE tenant = ? AND entity_id = ?",
                    (tenant, entity_id),
                )
                cursor = db.execute(
                    "DELETE FROM temporal_entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return cursor.rowcount > 0
        where = "tenant = ? AND entity_id = ? AND name = ?"
        params: list[Any] = [tenant, entity_id, attr]
        observed: list[tuple[str, str, str | None]] = []
        if instance_id is not None:
            iid = parse_instance_id(instance_id)
            if iid is None:
                return False
            where += " AND iid = ?"
            params.append(iid)
            observed = [
                (entity_id, attr, t)
                for (t,) in db.execute(f"SELECT observed_at FROM instances WHERE {where}", params)
            ]
        elif not delete_all:
            where += " AND dataset = ?"
            params.append(dataset_id or "")
        await begin(db)
        try:
            deleted = db.execute(f"DELETE FROM instances WHERE {where}", params).rowcount
            if instance_id is not None:
                self._recount_hours(tenant, observed)
            else:
                db.execute(f"DELETE FROM instance_hours WHERE {where}", params)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return deleted > 0

    async def replace_instance(
        self, tenant: str, entity_id: str, attr: str, instance_id: str, instance: dict[str, Any]
    ) -> bool:
        iid = parse_instance_id(instance_id)
        if iid is None:
            return False
        key = (tenant, entity_id, attr, iid)
        db = self.db
        await begin(db)
        try:
            replaced = self._replace_instance(key, instance)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return replaced

    def _replace_instance(self, key: tuple[str, str, str, int], instance: dict[str, Any]) -> bool:
        tenant, entity_id, attr, _ = key
        old = self.db.execute(
            "SELECT dataset, created_at, observed_at FROM instances WHERE tenant = ? "
            "AND entity_id = ? AND name = ? AND iid = ?",
            key,
        ).fetchone()
        if old is None:
            return False
        if "datasetId" not in instance and old[0]:
            instance = {**instance, "datasetId": old[0]}
        r = record(attr, instance, _now(), None)
        self.db.execute(
            "UPDATE instances SET at = ?, observed_at = ?, modified_at = ?, num = ?, txt = ?, "
            "geometry = ?, doc = ?, dataset = ? WHERE tenant = ? AND entity_id = ? AND name = ? "
            "AND iid = ?",
            (
                _canon(r.observed_at) or old[1],
                _canon(r.observed_at),
                _canon(r.modified_at),
                r.num,
                r.txt,
                None if r.geometry is None else orjson.dumps(r.geometry),
                r.doc,
                r.dataset,
                *key,
            ),
        )
        hours = [(entity_id, attr, old[2]), (entity_id, attr, _canon(r.observed_at))]
        self._recount_hours(tenant, hours)
        return True

    async def retention(self, tenant: str | None, older_than: datetime) -> int:
        cutoff = _canon(older_than)
        assert cutoff is not None
        hour = _hour_number(cutoff)
        where = "" if tenant is None else " AND tenant = ?"
        params: list[Any] = [] if tenant is None else [tenant]
        db = self.db
        await begin(db)
        try:
            gone = db.execute(f"DELETE FROM instances WHERE at < ?{where}", [cutoff, *params])
            db.execute(f"DELETE FROM instance_hours WHERE hour < ?{where}", [hour, *params])
            if _hour_bounds(hour)[0] != cutoff:  # the hour of the cutoff keeps later instances
                partial = db.execute(
                    f"SELECT DISTINCT tenant, entity_id, name FROM instance_hours "
                    f"WHERE hour = ?{where}",
                    [hour, *params],
                ).fetchall()
                for owner, entity_id, name in partial:
                    self._recount_hours(owner, [(entity_id, name, cutoff)])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return gone.rowcount


def _keys_filter(
    tenant: str, query: TemporalQuery, entities: dict[str, TemporalEntity], c: _Params
) -> str:
    """The entities, attributes and datasets of a query, over rollups or instances."""
    sql = f"tenant = {c.p(tenant)} AND entity_id IN ({','.join(c.p(e) for e in entities)})"
    if query.attrs:
        sql += f" AND name IN ({','.join(c.p(a) for a in query.attrs)})"
    if query.dataset_ids:
        datasets = ["" if d == "@none" else d for d in query.dataset_ids]
        sql += f" AND dataset IN ({','.join(c.p(d) for d in datasets)})"
    return sql


def _rows_filter(
    tenant: str, query: TemporalQuery, entities: dict[str, TemporalEntity], c: _Params
) -> str:
    tenant_mark = c.p(tenant)  # placeholders in the order of the text
    marks = ",".join(c.p(e) for e in entities)
    return (
        f"tenant = {tenant_mark} AND entity_id IN ({marks}){_instance_filter(query, c)} "
        "AND deleted_at IS NULL"
    )


def _bucket(period: Duration | None, t: str, c: _Params) -> str:
    """SQL for the number of the bucket of time `t` (canonical text) counted from the origin
    `o.origin` (canonical text; `o.seconds` its whole Unix seconds), in integer arithmetic:
    whole months, or microseconds divided by the period."""
    origin = "o.origin"
    if period is None or period.is_zero:
        return "0"
    if period.months:
        # whole months between origin and t: years and months apart, less one when t's
        # day and time of the month come before the origin's
        return (
            f"(((CAST(substr({t}, 1, 4) AS INTEGER) - CAST(substr({origin}, 1, 4) AS INTEGER))"
            f" * 12 + CAST(substr({t}, 6, 2) AS INTEGER) - CAST(substr({origin}, 6, 2) AS "
            f"INTEGER) - (substr({t}, 9) < substr({origin}, 9))) / {c.p(period.months)})"
        )
    micros = max(1, round(period.seconds * 1_000_000))
    return (
        f"(((CAST(strftime('%s', {t}) AS INTEGER) - o.seconds)"
        f" * 1000000 + CAST(substr({t}, 21, 6) AS INTEGER) - CAST(substr({origin}, 21, 6) AS "
        f"INTEGER)) / {c.p(micros)})"
    )


def _entity_row(tenant: str, entity: Entity, at: str, *, deleted: bool) -> tuple[Any, ...]:
    return (tenant, entity["id"], orjson.dumps(entity.get("type", [])), at, at if deleted else None)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _time_filter(query: TemporalQuery, c: _Params, alias: str = "") -> str:
    column = alias + _TIME_COLUMNS[query.timeproperty]
    sql = f" AND {column} IS NOT NULL"
    if query.timerel is None or query.time_at is None:
        return sql
    at = _canon(parse_time(query.time_at))
    if query.timerel == "before":
        return sql + f" AND {column} < {c.p(at)}"
    if query.timerel == "after":
        return sql + f" AND {column} >= {c.p(at)}"
    assert query.end_time_at is not None
    end = _canon(parse_time(query.end_time_at))
    return sql + f" AND {column} >= {c.p(at)} AND {column} < {c.p(end)}"


def _instance_filter(query: TemporalQuery, c: _Params) -> str:
    sql = _time_filter(query, c)
    if query.attrs:
        sql += f" AND name IN ({','.join(c.p(a) for a in query.attrs)})"
    if query.dataset_ids:
        datasets = ["" if d == "@none" else d for d in query.dataset_ids]
        sql += f" AND dataset IN ({','.join(c.p(d) for d in datasets)})"
    return sql


def _entity_filter(tenant: str, query: TemporalQuery, c: _Params) -> str:
    parts = [f"t.tenant = {c.p(tenant)}"]
    if query.ids:
        parts.append(f"t.id IN ({','.join(c.p(i) for i in query.ids)})")
    if query.id_pattern:
        parts.append(f"regexp({c.p(query.id_pattern)}, t.id)")
    if query.types is not None:
        parts.append(_types(query.types, c))

    def scope(c2: Any) -> str:
        return (
            "SELECT 1 FROM instances x WHERE x.tenant = t.tenant AND x.entity_id = t.id"
            + _time_filter(query, c2, "x.")
        )

    if query.q is not None:
        parts.append(
            q_sql(query.q, c, scope, lambda column, pattern: f"regexp({pattern}, {column})")
        )
    if query.geo is not None:
        parts.append(_geo(query.geo, c, scope))
    inner = _instance_filter(query, c)
    parts.append(
        "EXISTS (SELECT 1 FROM instances i WHERE i.tenant = t.tenant "
        f"AND i.entity_id = t.id{inner})"
    )
    return " AND ".join(parts)


def _geo(geo: GeoQuery, c: _Params, scope: Any) -> str:
    inner = scope(c)
    name = c.p(geo.geoproperty)
    test = (
        f"geo_match({c.p(geo.georel)}, {c.p(shapely.to_wkb(geo.shape))}, "
        f"{c.p(geo.max_distance)}, {c.p(geo.min_distance)}, x.geometry)"
    )
    return f"EXISTS ({inner} AND x.name = {name} AND x.geometry IS NOT NULL AND {test})"


def _types(expr: TypeExpr, c: _Params) -> str:
    if isinstance(expr, TypeName):
        return f"EXISTS (SELECT 1 FROM json_each(t.types) WHERE value = {c.p(expr.name)})"
    joiner = " AND " if isinstance(expr, TypeAnd) else " OR "
    return "(" + joiner.join(_types(term, c) for term in expr.terms) + ")"
