"""FHIR resources in the PostgreSQL store (see `dalgu.store.fhir_query` for the indexes).

A write is one transaction of a fixed number of round trips whatever its size: lock the rows
it touches, insert the new resources and update the others with `unnest` arrays, insert their
versions, and replace their index rows, so a transaction Bundle of 100 Observations costs
about as many round trips as one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from dalgu.errors import Conflict
from dalgu.fhir.model import StoredResource
from dalgu.fhir.search import SearchQuery
from dalgu.store.base import FhirStore, FhirWrite
from dalgu.store.fhir_plan import Current, now, plan
from dalgu.store.fhir_query import (
    INDEX_COLUMNS,
    QUERY_SECONDS,
    count_sql,
    index_tuples,
    known_total,
    page_sql,
    too_long,
)

_INDEX_TYPES = {
    "fhir_token": ("text", "text", "text", "text", "bigint", "text"),
    "fhir_string": ("text", "text", "text", "text", "bigint"),
    "fhir_date": ("text", "text", "float8", "float8", "bigint"),
    "fhir_ref": ("text", "text", "text", "text", "bigint"),
}


def _unnest(types: Sequence[str], first: int = 1) -> str:
    return ", ".join(f"${first + i}::{t}[]" for i, t in enumerate(types))


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


class PostgresFhir(FhirStore):
    """Mixed into `PostgresEntityStore`: shares its pool."""

    @property
    def pool(self) -> Any:  # provided by the entity store
        raise NotImplementedError

    async def fhir_write(self, writes: Sequence[FhirWrite]) -> list[StoredResource]:
        try:
            if writes and all(w.must_create and w.resource is not None for w in writes):
                async with self.pool.acquire() as conn:
                    return await self._fhir_create(conn, writes)
            async with self.pool.acquire() as conn, conn.transaction():
                return await self._fhir_apply(conn, writes)
        except asyncpg.UniqueViolationError:
            raise Conflict("another request created the same resource meanwhile") from None
        except asyncpg.DeadlockDetectedError:
            raise Conflict("the write lost a race with another one; retry it") from None

    async def _fhir_create(self, conn: Any, writes: Sequence[FhirWrite]) -> list[StoredResource]:
        """Only new resources (creates, AuditEvents, a transaction of POSTs): one statement,
        atomic by itself, one round trip. An id that exists after all is a unique violation.
        The index rows of new resources cannot collide (`index_tuples` gives each once), so
        they are plain inserts: `ON CONFLICT` would make each a speculative insertion, an
        extra index probe and WAL record per row."""
        last_updated, updated = now()
        planned = plan(writes, {}, last_updated)
        index: dict[str, list[tuple[Any, ...]]] = {t: [] for t in INDEX_COLUMNS}
        for n, p in enumerate(planned):
            s = p.stored
            for table, values in index_tuples(n, s.type, p.write.index, s.patient).items():
                index[table].extend(values)
        args: list[Any] = [
            last_updated,
            updated,
            [p.stored.type for p in planned],
            [p.stored.id for p in planned],
            [p.stored.patient for p in planned],
            [p.stored.body for p in planned],
        ]
        inserts = []
        for table, values in index.items():
            if not values:
                continue
            types = _INDEX_TYPES[table]
            columns = INDEX_COLUMNS[table].strip("()").split(", ")
            first = len(args) + 1
            args.extend(_columns(values, len(types)))
            unnest = _unnest(types, first)
            picked = ", ".join("m.rid" if c == "rid" else f"x.{c}" for c in columns)
            inserts.append(
                f"{table}_rows AS (INSERT INTO {table} {INDEX_COLUMNS[table]} "
                f"SELECT {picked} FROM unnest({unnest}) AS x({', '.join(columns)}) "
                "JOIN m ON m.n = x.rid)"
            )
        sql = (
            "WITH k AS (SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::bytea[]) "
            "WITH ORDINALITY AS k(t, i, pt, b, n)), "
            "ins AS (INSERT INTO fhir_resources (type, id, version, last_updated, updated, "
            "deleted, patient) SELECT t, i, 1, $1, $2, 0, pt FROM k ORDER BY n "
            "RETURNING rid, type, id), "
            "m AS (SELECT ins.rid, k.n - 1 AS n, k.t, k.b FROM ins JOIN k ON k.t = ins.type "
            "AND k.i = ins.id), "
            "versions AS (INSERT INTO fhir_versions (rid, version, type, last_updated, updated, "
            "deleted, body) SELECT rid, 1, t, $1, $2, 0, b FROM m)"
            + "".join(", " + i for i in inserts)
            + " SELECT count(*) FROM m"
        )
        await conn.fetchval(sql, *args)
        return [p.stored for p in planned]

    async def _fhir_apply(self, conn: Any, writes: Sequence[FhirWrite]) -> list[StoredResource]:
        rows = await conn.fetch(
            "SELECT r.type, r.id, r.rid, r.version, r.deleted FROM fhir_resources r "
            "JOIN unnest($1::text[], $2::text[]) AS k(type, id) ON r.type = k.type "
            "AND r.id = k.id ORDER BY r.rid FOR UPDATE OF r",
            [w.type for w in writes],
            [w.id for w in writes],
        )
        current = {(t, i): Current(rid, v, bool(d)) for t, i, rid, v, d in rows}
        last_updated, updated = now()
        every = plan(writes, current, last_updated)
        planned = [p for p in every if p.writes_version]
        fresh = [p for p in planned if p.rid is None]
        if fresh:
            rids = await conn.fetch(
                "INSERT INTO fhir_resources (type, id, version, last_updated, updated, deleted, "
                "patient) SELECT t, i, v, $4, $5, d, pt FROM unnest($1::text[], $2::text[], "
                "$3::int[], $6::smallint[], $7::text[]) AS u(t, i, v, d, pt) RETURNING rid",
                [p.stored.type for p in fresh],
                [p.stored.id for p in fresh],
                [p.stored.version for p in fresh],
                last_updated,
                updated,
                [int(p.stored.deleted) for p in fresh],
                [p.stored.patient for p in fresh],
            )
            for p, (rid,) in zip(fresh, rids, strict=True):
                p.rid = rid
        changed = [p for p in planned if p not in fresh]
        if changed:
            await conn.execute(
                "UPDATE fhir_resources r SET version = u.v, last_updated = $3, updated = $4, "
                "deleted = u.d, patient = u.pt FROM unnest($1::bigint[], $2::int[], "
                "$5::smallint[], $6::text[]) AS u(rid, v, d, pt) WHERE r.rid = u.rid",
                [p.rid for p in changed],
                [p.stored.version for p in changed],
                last_updated,
                updated,
                [int(p.stored.deleted) for p in changed],
                [p.stored.patient for p in changed],
            )
            for table in INDEX_COLUMNS:
                await conn.execute(
                    f"DELETE FROM {table} WHERE rid = ANY($1::bigint[])", [p.rid for p in changed]
                )
        if planned:
            await conn.execute(
                "INSERT INTO fhir_versions (rid, version, type, last_updated, updated, deleted, "
                "body) SELECT rid, v, t, $4, $5, d, b FROM unnest($1::bigint[], $2::int[], "
                "$3::text[], $6::smallint[], $7::bytea[]) AS u(rid, v, t, d, b)",
                [p.rid for p in planned],
                [p.stored.version for p in planned],
                [p.stored.type for p in planned],
                last_updated,
                updated,
                [int(p.stored.deleted) for p in planned],
                [p.stored.body for p in planned],
            )
        index: dict[str, list[tuple[Any, ...]]] = {t: [] for t in INDEX_COLUMNS}
        for p in planned:
            if not p.stored.deleted and p.rid is not None:
                for table, values in index_tuples(
                    p.rid, p.stored.type, p.write.index, p.stored.patient
                ).items():
                    index[table].extend(values)
        for table, values in index.items():
            if values:
                types = _INDEX_TYPES[table]
                await conn.execute(
                    f"INSERT INTO {table} {INDEX_COLUMNS[table]} SELECT * FROM "
                    f"unnest({_unnest(types)}) ON CONFLICT DO NOTHING",
                    *_columns(values, len(types)),
                )
        return [p.stored for p in every]

    async def fhir_read(
        self, type_name: str, resource_id: str, version: int | None = None
    ) -> StoredResource | None:
        row = await self.pool.fetchrow(
            "SELECT r.patient, v.version, v.last_updated, v.deleted, v.body "
            "FROM fhir_resources r JOIN fhir_versions v ON v.rid = r.rid "
            "AND v.version = coalesce($3::int, r.version) WHERE r.type = $1 AND r.id = $2",
            type_name,
            resource_id,
            version,
        )
        if row is None:
            return None
        patient, number, last_updated, deleted, body = row
        return StoredResource(
            type_name, resource_id, number, last_updated, bool(deleted), body, patient
        )

    async def fhir_read_many(self, references: Sequence[tuple[str, str]]) -> list[StoredResource]:
        unique = list(dict.fromkeys(references))
        rows = await self.pool.fetch(
            "SELECT r.type, r.id, r.patient, v.version, v.last_updated, v.body "
            "FROM unnest($1::text[], $2::text[]) AS k(type, id) "
            "JOIN fhir_resources r ON r.type = k.type AND r.id = k.id AND r.deleted = 0 "
            "JOIN fhir_versions v ON v.rid = r.rid AND v.version = r.version",
            [t for t, _ in unique],
            [i for _, i in unique],
        )
        return [StoredResource(t, i, v, at, False, b, pt) for t, i, pt, v, at, b in rows]

    async def fhir_history(
        self,
        type_name: str,
        resource_id: str | None,
        since: float | None,
        count: int,
        offset: int,
    ) -> tuple[list[StoredResource], int]:
        where = (
            "v.type = $1 AND ($2::text IS NULL OR (r.id = $2 AND r.type = $1)) "
            "AND ($3::float8 IS NULL OR v.updated >= $3)"
        )
        source = "fhir_versions v JOIN fhir_resources r ON r.rid = v.rid"
        async with self.pool.acquire() as conn:
            total = await conn.fetchval(
                f"SELECT count(*) FROM {source} WHERE {where}", type_name, resource_id, since
            )
            rows = await conn.fetch(
                "SELECT r.id, r.patient, v.version, v.last_updated, v.deleted, v.body, "
                "(v.version = 1 OR EXISTS (SELECT 1 FROM fhir_versions p WHERE p.rid = v.rid "
                "AND p.version = v.version - 1 AND p.deleted <> 0)) "  # made it exist: `created`
                f"FROM {source} WHERE {where} "
                "ORDER BY v.updated DESC, v.rid DESC, v.version DESC LIMIT $4 OFFSET $5",
                type_name,
                resource_id,
                since,
                count,
                offset,
            )
        return [
            StoredResource(type_name, i, v, at, bool(d), b, pt, created=new)
            for i, pt, v, at, d, b, new in rows
        ], int(total)

    async def fhir_search(self, query: SearchQuery) -> tuple[list[StoredResource], int | None]:
        # a search's statements may not run past QUERY_SECONDS (SET LOCAL: this transaction
        # only), so no search holds a pool connection, or the database, for longer
        try:
            async with self.pool.acquire() as conn, conn.transaction(readonly=True):
                await conn.execute(f"SET LOCAL statement_timeout = {int(QUERY_SECONDS * 1000)}")
                return await self._search(conn, query)
        except asyncpg.QueryCanceledError:
            raise too_long() from None

    async def _search(
        self, conn: Any, query: SearchQuery
    ) -> tuple[list[StoredResource], int | None]:
        page: list[Any] = []
        total = None
        if not query.only_count and query.count > 0:
            sql, args = page_sql(query, "numeric", sqlite=False)
            page = await conn.fetch(sql, *args)
        if query.total or query.only_count:
            total = known_total(query, len(page))
            if total is None:
                sql, args = count_sql(query, "numeric", sqlite=False)
                total = int(await conn.fetchval(sql, *args))
        if not page:
            return [], total
        bodies = dict(
            await conn.fetch(
                "SELECT v.rid, v.body FROM unnest($1::bigint[], $2::int[]) AS k(rid, version) "
                "JOIN fhir_versions v ON v.rid = k.rid AND v.version = k.version",
                [row[0] for row in page],
                [row[3] for row in page],
            )
        )
        return [
            StoredResource(t, i, v, at, False, bodies[rid], patient)
            for rid, t, i, v, at, patient in page
        ], total
