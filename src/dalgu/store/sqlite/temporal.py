"""Temporal history in the SQLite store: instances recorded per change, queried by time.

Times are stored in one canonical UTC form so that ranges compare as text; aggregation runs
in SQL over buckets of the requested period.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from dalgu.store.base import Change, Entity, TemporalEntity, TemporalQuery, TemporalStore
from dalgu.store.indexing import attribute_iris, canonical_datetime

INSTANCE_PREFIX = "urn:ngsi-ld:Instance:"
_TIME_COLUMNS = {
    "observedAt": "observed_at",
    "createdAt": "created_at",
    "modifiedAt": "modified_at",
    "deletedAt": "deleted_at",
}
_AGGREGATES = {
    "totalCount": "count(*)",
    "distinctCount": "count(DISTINCT coalesce(num, value_text))",
    "sum": "sum(num)",
    "avg": "avg(num)",
    "min": "min(num)",
    "max": "max(num)",
    "stddev": "CASE WHEN count(num) > 1 THEN sqrt(max((sum(num * num) - sum(num) * sum(num) "
    "/ count(num)) / (count(num) - 1), 0)) ELSE 0 END",
    "sumsq": "sum(num * num)",
}


def _canon(value: str | None) -> str | None:
    return None if value is None else canonical_datetime(value)


def _number(instance: dict[str, Any]) -> float | None:
    value = instance.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class SqliteTemporal(TemporalStore):
    """Mixed into `SqliteEntityStore`: shares its connection and transactions."""

    @property
    def db(self) -> sqlite3.Connection:  # provided by the entity store
        raise NotImplementedError

    # --- recording (inside the entity store's transaction) ------------------------------

    def _record_history(self, tenant: str, changes: Iterable[Change], at: str) -> None:
        rows: list[tuple[Any, ...]] = []
        entities: list[tuple[Any, ...]] = []
        for change in changes:
            entity = change.after or change.before
            assert entity is not None
            entities.append(_entity_row(tenant, entity, at, deleted=change.after is None))
            rows.extend(_instance_rows(tenant, change.before, change.after, at))
        self.db.executemany(_TOUCH, entities)
        if rows:
            self.db.executemany(
                "INSERT INTO instances (tenant, entity_id, name, dataset, observed_at, "
                "created_at, modified_at, deleted_at, num, doc) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )

    def _touch_entity(self, tenant: str, entity: Entity, at: str, *, deleted: bool) -> None:
        self.db.execute(_TOUCH, _entity_row(tenant, entity, at, deleted=deleted))

    # --- the temporal API ---------------------------------------------------------------

    async def add_instances(
        self, tenant: str, entity_id: str, types: list[str], attrs: dict[str, list[Any]]
    ) -> bool:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            existed = db.execute(
                "SELECT 1 FROM temporal_entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
            ).fetchone()
            now = _now()
            self._touch_entity(tenant, {"id": entity_id, "type": types}, now, deleted=False)
            rows = [
                _row(tenant, entity_id, name, instance, now, None)
                for name, instances in attrs.items()
                for instance in instances
            ]
            db.executemany(
                "INSERT INTO instances (tenant, entity_id, name, dataset, observed_at, "
                "created_at, modified_at, deleted_at, num, doc) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return existed is None

    async def temporal_query(
        self, tenant: str, query: TemporalQuery
    ) -> tuple[list[TemporalEntity], int | None]:
        column = _TIME_COLUMNS[query.timeproperty]
        time_sql, time_params = _time_filter(query, column)
        where = ["t.tenant = ?"]
        params: list[Any] = [tenant]
        if query.ids:
            where.append(f"t.id IN ({','.join('?' * len(query.ids))})")
            params.extend(query.ids)
        if query.id_pattern:
            where.append("regexp(?, t.id)")
            params.append(query.id_pattern)
        if query.types is not None:
            sql, type_params = _types_sql(query.types)
            where.append(sql)
            params.extend(type_params)
        attr_sql, attr_params = _attrs_filter(query.attrs)
        where.append(
            f"EXISTS (SELECT 1 FROM instances i WHERE i.tenant = t.tenant AND i.entity_id = t.id "
            f"AND {column} IS NOT NULL{time_sql}{attr_sql})"
        )
        params.extend(time_params + attr_params)
        clause = " AND ".join(where)
        rows = self.db.execute(
            f"SELECT id, types FROM temporal_entities t WHERE {clause} "
            "ORDER BY id LIMIT ? OFFSET ?",
            (*params, query.limit, query.offset),
        ).fetchall()
        count = None
        if query.count:
            (count,) = self.db.execute(
                f"SELECT count(*) FROM temporal_entities t WHERE {clause}", params
            ).fetchone()
        entities = []
        for entity_id, types in rows:
            entity = TemporalEntity(entity_id, orjson.loads(types))
            if query.aggregate:
                entity.aggregates = self._aggregate(tenant, entity_id, query, column)
            else:
                entity.instances = self._instances(tenant, entity_id, query, column)
            entities.append(entity)
        return entities, count

    def _instances(
        self, tenant: str, entity_id: str, query: TemporalQuery, column: str
    ) -> dict[str, list[dict[str, Any]]]:
        time_sql, time_params = _time_filter(query, column)
        attr_sql, attr_params = _attrs_filter(query.attrs)
        base = (
            f"SELECT iid, name, doc, {column} AS t FROM instances i WHERE tenant = ? "
            f"AND entity_id = ? AND {column} IS NOT NULL{time_sql}{attr_sql}"
        )
        args: list[Any] = [tenant, entity_id, *time_params, *attr_params]
        if query.last_n:
            sql = (
                f"SELECT iid, name, doc, t FROM (SELECT *, row_number() OVER (PARTITION BY name "
                f"ORDER BY t DESC) AS rank FROM ({base})) WHERE rank <= ? ORDER BY name, t"
            )
            args.append(query.last_n)
        else:
            sql = base + " ORDER BY name, t"
        out: dict[str, list[dict[str, Any]]] = {}
        for iid, name, doc, _ in self.db.execute(sql, args):
            instance = orjson.loads(doc)
            instance["instanceId"] = f"{INSTANCE_PREFIX}{iid}"
            out.setdefault(name, []).append(instance)
        return out

    def _aggregate(
        self, tenant: str, entity_id: str, query: TemporalQuery, column: str
    ) -> dict[str, dict[str, list[list[Any]]]]:
        time_sql, time_params = _time_filter(query, column)
        attr_sql, attr_params = _attrs_filter(query.attrs)
        origin = query.time_at if query.timerel in ("after", "between") else None
        if origin is None:
            (origin,) = self.db.execute(
                f"SELECT min({column}) FROM instances i WHERE tenant = ? AND entity_id = ?"
                f"{time_sql}{attr_sql}",
                (tenant, entity_id, *time_params, *attr_params),
            ).fetchone()
            if origin is None:
                return {}
        origin = canonical_datetime(origin)
        period = query.period or 1e12
        selects = ", ".join(f"{_AGGREGATES[m]} AS {m}" for m in query.aggregate)
        sql = (
            f"SELECT name, CAST((julianday({column}) - julianday(?)) * 86400 / ? AS INTEGER) "
            f"AS bucket, {selects} FROM (SELECT *, json_extract(doc, '$.value') AS value_text "
            f"FROM instances i WHERE tenant = ? AND entity_id = ? AND {column} IS NOT NULL"
            f"{time_sql}{attr_sql}) GROUP BY name, bucket ORDER BY name, bucket"
        )
        start = datetime.fromisoformat(origin.replace("Z", "+00:00"))
        out: dict[str, dict[str, list[list[Any]]]] = {}
        for row in self.db.execute(
            sql, (origin, period, tenant, entity_id, *time_params, *attr_params)
        ):
            name, bucket, *values = row
            low = start + timedelta(seconds=bucket * period)
            high = low + timedelta(seconds=period)
            span = [_iso(low), _iso(high)]
            methods = out.setdefault(name, {})
            for method, value in zip(query.aggregate, values, strict=True):
                methods.setdefault(method, []).append([value, *span])
        return out

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
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "DELETE FROM instances WHERE tenant = ? AND entity_id = ?", (tenant, entity_id)
                )
                cursor = db.execute(
                    "DELETE FROM temporal_entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return cursor.rowcount > 0
        sql = "DELETE FROM instances WHERE tenant = ? AND entity_id = ? AND name = ?"
        params: list[Any] = [tenant, entity_id, attr]
        if instance_id is not None:
            sql += " AND iid = ?"
            params.append(_iid(instance_id))
        elif not delete_all:
            sql += " AND dataset = ?"
            params.append(dataset_id or "")
        return db.execute(sql, params).rowcount > 0

    async def replace_instance(
        self, tenant: str, entity_id: str, attr: str, instance_id: str, instance: dict[str, Any]
    ) -> bool:
        row = _row(tenant, entity_id, attr, instance, _now(), None)
        cursor = self.db.execute(
            "UPDATE instances SET observed_at = ?, modified_at = ?, num = ?, doc = ? "
            "WHERE tenant = ? AND entity_id = ? AND name = ? AND iid = ?",
            (row[4], row[6], row[8], row[9], tenant, entity_id, attr, _iid(instance_id)),
        )
        return cursor.rowcount > 0

    async def retention(self, tenant: str | None, older_than: str) -> int:
        sql = "DELETE FROM instances WHERE coalesce(observed_at, modified_at) < ?"
        params: list[Any] = [canonical_datetime(older_than)]
        if tenant is not None:
            sql += " AND tenant = ?"
            params.append(tenant)
        return self.db.execute(sql, params).rowcount


_TOUCH = (
    "INSERT INTO temporal_entities (tenant, id, types, created_at, deleted_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET "
    "types = excluded.types, deleted_at = excluded.deleted_at"
)


def _entity_row(tenant: str, entity: Entity, at: str, *, deleted: bool) -> tuple[Any, ...]:
    return (tenant, entity["id"], orjson.dumps(entity.get("type", [])), at, at if deleted else None)


def _iid(instance_id: str) -> int:
    suffix = instance_id.removeprefix(INSTANCE_PREFIX)
    return int(suffix) if suffix.isdigit() else -1


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _row(
    tenant: str, entity_id: str, name: str, instance: dict[str, Any], at: str, deleted: str | None
) -> tuple[Any, ...]:
    return (
        tenant,
        entity_id,
        name,
        instance.get("datasetId", ""),
        _canon(instance.get("observedAt")),
        canonical_datetime(instance.get("createdAt", at)),
        canonical_datetime(instance.get("modifiedAt", at)),
        _canon(deleted),
        _number(instance),
        orjson.dumps(instance),
    )


def _instance_rows(
    tenant: str, before: Entity | None, after: Entity | None, at: str
) -> list[tuple[Any, ...]]:
    """One row per new or changed instance, and one per deleted instance."""
    rows = []
    old = (
        {(a, i.get("datasetId")): i for a in attribute_iris(before) for i in before[a]}
        if (before)
        else {}
    )
    new = (
        {(a, i.get("datasetId")): i for a in attribute_iris(after) for i in after[a]}
        if (after)
        else {}
    )
    entity_id = (after or before or {}).get("id", "")
    for key, instance in new.items():
        if old.get(key) != instance:
            rows.append(_row(tenant, entity_id, key[0], instance, at, None))
    for key, instance in old.items():
        if key not in new:
            gone = {"type": instance.get("type"), "deletedAt": at}
            if "datasetId" in instance:
                gone["datasetId"] = instance["datasetId"]
            rows.append(_row(tenant, entity_id, key[0], {**gone, "modifiedAt": at}, at, at))
    return rows


def _time_filter(query: TemporalQuery, column: str) -> tuple[str, list[Any]]:
    if query.timerel is None or query.time_at is None:
        return "", []
    at = canonical_datetime(query.time_at)
    if query.timerel == "before":
        return f" AND {column} < ?", [at]
    if query.timerel == "after":
        return f" AND {column} > ?", [at]
    assert query.end_time_at is not None
    return f" AND {column} >= ? AND {column} < ?", [at, canonical_datetime(query.end_time_at)]


def _attrs_filter(attrs: Sequence[str]) -> tuple[str, list[Any]]:
    if not attrs:
        return "", []
    return f" AND name IN ({','.join('?' * len(attrs))})", list(attrs)


def _types_sql(expr: Any) -> tuple[str, list[Any]]:
    from dalgu.query.ast import TypeAnd, TypeName

    if isinstance(expr, TypeName):
        return "EXISTS (SELECT 1 FROM json_each(t.types) WHERE value = ?)", [expr.name]
    parts = [_types_sql(term) for term in expr.terms]
    joiner = " AND " if isinstance(expr, TypeAnd) else " OR "
    return "(" + joiner.join(p[0] for p in parts) + ")", [v for p in parts for v in p[1]]
