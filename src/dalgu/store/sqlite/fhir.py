"""FHIR resources in the SQLite store (tables of migration `fhir_resources`, see
`dalgu.store.fhir_query` for the search indexes).

A write joins the entity store's group commit (`SqliteEntityStore._in_group_commit`): it runs
in its own savepoint of the `BEGIN IMMEDIATE` transaction that commits every write queued in
the same turn of the event loop, so concurrent creates share one commit. All or nothing (a
failing write undoes its savepoint only), and durable once it returns, as every write of this
store.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from dalgu.fhir.model import StoredResource
from dalgu.fhir.search import SearchQuery
from dalgu.store.base import FhirStore, FhirWrite
from dalgu.store.fhir_plan import Current, Planned, now, plan
from dalgu.store.fhir_query import (
    INDEX_COLUMNS,
    QUERY_SECONDS,
    count_sql,
    index_tuples,
    known_total,
    page_sql,
    too_long,
)

_INDEX_TABLES = tuple(INDEX_COLUMNS)
T = TypeVar("T")

#: whether a version `v` made its resource exist: the first, or the one after a deletion
_CREATED = (
    "(v.version = 1 OR EXISTS (SELECT 1 FROM fhir_versions p "
    "WHERE p.rid = v.rid AND p.version = v.version - 1 AND p.deleted <> 0))"
)


class SqliteFhir(FhirStore):
    """Mixed into `SqliteEntityStore`: shares its connection."""

    @property
    def db(self) -> sqlite3.Connection:  # provided by the entity store
        raise NotImplementedError

    async def _in_group_commit(self, run: Callable[[], T]) -> T:  # of the entity store
        raise NotImplementedError

    async def fhir_write(self, writes: Sequence[FhirWrite]) -> list[StoredResource]:
        return await self._in_group_commit(
            lambda: [p.stored for p in self._fhir_apply(self.db, writes)]
        )

    def _fhir_apply(self, db: sqlite3.Connection, writes: Sequence[FhirWrite]) -> list[Planned]:
        current: dict[tuple[str, str], Current] = {}
        for w in writes:
            row = db.execute(
                "SELECT rid, version, deleted FROM fhir_resources WHERE type = ? AND id = ?",
                (w.type, w.id),
            ).fetchone()
            if row is not None:
                current[(w.type, w.id)] = Current(row[0], row[1], bool(row[2]))
        last_updated, updated = now()
        planned = plan(writes, current, last_updated)
        versions: list[tuple[object, ...]] = []
        index: dict[str, list[tuple[object, ...]]] = {t: [] for t in _INDEX_TABLES}
        stale: list[tuple[int]] = []
        for p in planned:
            if not p.writes_version:
                continue
            s = p.stored
            if p.rid is None:
                cursor = db.execute(
                    "INSERT INTO fhir_resources (type, id, version, last_updated, updated, "
                    "deleted, patient) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (s.type, s.id, s.version, s.last_updated, updated, int(s.deleted), s.patient),
                )
                rid = int(cursor.lastrowid or 0)
            else:
                rid = p.rid
                stale.append((rid,))
                db.execute(
                    "UPDATE fhir_resources SET version = ?, last_updated = ?, updated = ?, "
                    "deleted = ?, patient = ? WHERE rid = ?",
                    (s.version, s.last_updated, updated, int(s.deleted), s.patient, rid),
                )
            versions.append(
                (rid, s.version, s.type, s.last_updated, updated, int(s.deleted), s.body)
            )
            if not s.deleted:
                for table, rows in index_tuples(rid, s.type, p.write.index, s.patient).items():
                    index[table].extend(rows)
        for table in _INDEX_TABLES:
            if stale:
                db.executemany(f"DELETE FROM {table} WHERE rid = ?", stale)
            if index[table]:
                marks = ", ".join("?" * len(index[table][0]))
                db.executemany(
                    f"INSERT OR IGNORE INTO {table} {INDEX_COLUMNS[table]} VALUES ({marks})",
                    index[table],
                )
        db.executemany(
            "INSERT INTO fhir_versions (rid, version, type, last_updated, updated, deleted, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            versions,
        )
        return planned

    async def fhir_read(
        self, type_name: str, resource_id: str, version: int | None = None
    ) -> StoredResource | None:
        row = self.db.execute(
            "SELECT r.patient, v.version, v.last_updated, v.deleted, v.body "
            "FROM fhir_resources r JOIN fhir_versions v ON v.rid = r.rid "
            f"AND v.version = {'r.version' if version is None else '?'} "
            "WHERE r.type = ? AND r.id = ?",
            (type_name, resource_id) if version is None else (version, type_name, resource_id),
        ).fetchone()
        if row is None:
            return None
        patient, number, last_updated, deleted, body = row
        return StoredResource(
            type_name, resource_id, number, last_updated, bool(deleted), body, patient
        )

    async def fhir_read_many(self, references: Sequence[tuple[str, str]]) -> list[StoredResource]:
        out = []
        for type_name, resource_id in dict.fromkeys(references):
            found = await self.fhir_read(type_name, resource_id)
            if found is not None and not found.deleted:
                out.append(found)
        return out

    async def fhir_history(
        self,
        type_name: str,
        resource_id: str | None,
        since: float | None,
        count: int,
        offset: int,
    ) -> tuple[list[StoredResource], int]:
        where = "v.type = ?"
        args: list[object] = [type_name]
        if resource_id is not None:
            where += " AND r.id = ? AND r.type = ?"
            args += [resource_id, type_name]
        if since is not None:
            where += " AND v.updated >= ?"
            args.append(since)
        source = "fhir_versions v JOIN fhir_resources r ON r.rid = v.rid"
        (total,) = self.db.execute(f"SELECT count(*) FROM {source} WHERE {where}", args).fetchone()
        rows = self.db.execute(
            f"SELECT r.id, r.patient, v.version, v.last_updated, v.deleted, v.body, {_CREATED} "
            f"FROM {source} WHERE {where} "
            "ORDER BY v.updated DESC, v.rid DESC, v.version DESC LIMIT ? OFFSET ?",
            [*args, count, offset],
        ).fetchall()
        return [
            StoredResource(type_name, i, v, at, bool(d), body, pt, created=bool(new))
            for i, pt, v, at, d, body, new in rows
        ], int(total)

    @contextmanager
    def _bounded(self) -> Iterator[None]:
        """Statements stopped at `QUERY_SECONDS`: they run on the event loop, which would
        serve nothing else (NGSI-LD included) meanwhile."""
        deadline = time.monotonic() + QUERY_SECONDS
        self.db.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        try:
            yield
        except sqlite3.OperationalError as error:
            if time.monotonic() > deadline and "interrupt" in str(error):
                raise too_long() from None
            raise
        finally:
            self.db.set_progress_handler(None, 0)

    async def fhir_search(self, query: SearchQuery) -> tuple[list[StoredResource], int | None]:
        with self._bounded():
            return self._search(query)

    def _search(self, query: SearchQuery) -> tuple[list[StoredResource], int | None]:
        page: list[tuple[int, str, str, int, str, str | None]] = []
        if not query.only_count and query.count > 0:
            sql, args = page_sql(query, "qmark", sqlite=True)
            page = self.db.execute(sql, args).fetchall()
        total = None
        if query.total or query.only_count:
            total = known_total(query, len(page))
            if total is None:
                sql, args = count_sql(query, "qmark", sqlite=True)
                (total,) = self.db.execute(sql, args).fetchone()
        if not page:
            return [], total
        bodies = dict(
            self.db.execute(
                "SELECT rid, body FROM fhir_versions WHERE "
                + " OR ".join("(rid = ? AND version = ?)" for _ in page),
                [x for row in page for x in (row[0], row[3])],
            ).fetchall()
        )
        return [
            StoredResource(t, i, v, at, False, bodies[rid], patient)
            for rid, t, i, v, at, patient in page
        ], total
