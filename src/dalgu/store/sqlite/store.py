"""The embedded store: one SQLite file in WAL mode.

Reads and writes run on one connection in the event loop's thread: a point read is a few
microseconds, cheaper than any hand-off to a thread. A commit is not (~150 µs: the WAL frames of
every page the write dirtied), so `mutate` calls that arrive together share one: each call is
queued, and one callback on the loop runs every queued call in one `BEGIN IMMEDIATE`
transaction (safe across worker processes), each call in its own savepoint so that a failing
call undoes only its own items, then commits once and answers every caller (group commit).
No call returns before the commit; with `synchronous=NORMAL` a committed write survives a
crash of the process (`FULL` for a power cut too). FHIR writes (`SqliteFhir.fhir_write`) join
the same group commit, each in its own savepoint too.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import orjson

from dalgu.broker.model import now_iso
from dalgu.errors import DalguError, StoreUnavailable
from dalgu.query.regex import searches
from dalgu.store.base import (
    AttributeInfo,
    Change,
    DefaultRendering,
    Entity,
    EntityQuery,
    EntityStore,
    Mutation,
    Outcome,
    QueryResult,
    StoredRendering,
    TypeInfo,
)
from dalgu.store.sqlite import summary
from dalgu.store.sqlite.checkpoint import JOURNAL_SIZE_LIMIT, Checkpointer
from dalgu.store.sqlite.collation import ROOT as ROOT_COLLATION
from dalgu.store.sqlite.collation import compare_root
from dalgu.store.sqlite.commands import SqliteCommandQueue
from dalgu.store.sqlite.devices import SqliteDevices
from dalgu.store.sqlite.driven import driven_sql
from dalgu.store.sqlite.fhir import SqliteFhir
from dalgu.store.sqlite.geo import geo_distance, geo_match, geo_point_match
from dalgu.store.sqlite.lock import BUSY_TIMEOUT_MS, BusyWait, try_begin
from dalgu.store.sqlite.opendata import SqliteDatasets
from dalgu.store.sqlite.ordered import order_driver
from dalgu.store.sqlite.outbox_signal import OutboxSignal
from dalgu.store.sqlite.parameters import bind_without_adapting
from dalgu.store.sqlite.plan import PlanCounts, choose, count_by_types, typed_arms
from dalgu.store.sqlite.query import Compiled, order_clause, where_clause
from dalgu.store.sqlite.queued import Queued, runs
from dalgu.store.sqlite.registrations import SqliteRegistrations
from dalgu.store.sqlite.renderings import refresh
from dalgu.store.sqlite.rows import IndexWrites
from dalgu.store.sqlite.runs import SqliteRunJournal
from dalgu.store.sqlite.schema import migrate
from dalgu.store.sqlite.subscriptions import SqliteSubscriptions
from dalgu.store.sqlite.temporal import SqliteTemporal

T = TypeVar("T")

#: what a query reads of each entity of its page: its document, or (asked for renderings)
#: its kept rendering and, only where it has none, its document
_PAGE = {False: "e.doc", True: "e.rendered, CASE WHEN e.rendered IS NULL THEN e.doc END"}
#: an entity's kept rendering, or its document where it has none (`get_rendered`)
_RENDERED = f"SELECT {_PAGE[True]} FROM entities e WHERE e.tenant = ? AND e.id = ?"


# a group commit waits up to this many turns of the loop while writes keep joining it: the
# requests read meanwhile (a batch's body arrives over a turn or two) share its transaction,
# and every page they all touch is written to the log once, not once per request
GATHER_TURNS = 3


def _regexp(pattern: str, value: str | None) -> int:
    """SQLite's `regexp(pattern, value)`: RE2's search (`dalgu.query.regex`), linear in the
    value whatever the pattern."""
    return int(value is not None and searches(pattern, value))


_TENANTS = """
WITH RECURSIVE t(tenant) AS (
    SELECT min(tenant) FROM entities
    UNION ALL
    SELECT (SELECT min(tenant) FROM entities WHERE tenant > t.tenant) FROM t
    WHERE t.tenant IS NOT NULL
)
SELECT tenant FROM t WHERE tenant IS NOT NULL
"""


#: what SQLite says when its file cannot be read or written now (not a bad statement)
_OUTAGES = (
    "database is locked",
    "disk I/O error",
    "unable to open database file",
    "database or disk is full",
    "readonly database",
)


class SqliteEntityStore(
    EntityStore,
    SqliteSubscriptions,
    SqliteTemporal,
    SqliteDevices,
    SqliteCommandQueue,
    SqliteRunJournal,
    SqliteFhir,
    SqliteRegistrations,
    SqliteDatasets,
):
    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "NORMAL",
        cache_mib: int = 64,
        wal_limit_mib: int = 256,
    ) -> None:
        """`cache_mib`: SQLite's page cache of this connection (a process that reads only
        the outbox, the notifier, needs little). `wal_limit_mib`: the -wal file's size past
        which the checkpointer truncates it (see `Checkpointer`)."""
        self.path = Path(path)
        self._wal_limit = wal_limit_mib * 1024 * 1024
        self._synchronous = synchronous
        self._cache_kib = cache_mib * 1024
        self._db: sqlite3.Connection | None = None
        self._checkpointer: Checkpointer | None = None
        self._queued: list[Queued] = []
        self._plan_counts = PlanCounts()  # the planner's counts of index rows (`plan.py`)
        self._change_filters = {}
        self._busy = BusyWait()
        self._gathered = 0  # the calls queued when the commit last looked, and its turns so far
        self._turns = 0

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreUnavailable("the store is not open")
        return self._db

    async def open(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        bind_without_adapting()
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self._synchronous}")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute(f"PRAGMA cache_size=-{self._cache_kib}")
        db.execute("PRAGMA temp_store=MEMORY")
        # checkpoints run in a background thread (PASSIVE, never blocking writers) instead of
        # stalling whichever write happens to cross the autocheckpoint threshold
        db.execute("PRAGMA wal_autocheckpoint=0")
        # when the log restarts, the file is cut back to this size rather than kept at its peak
        db.execute(f"PRAGMA journal_size_limit={min(self._wal_limit, JOURNAL_SIZE_LIMIT)}")
        db.create_function("regexp", 2, _regexp, deterministic=True)
        db.create_function("geo_match", 5, geo_match, deterministic=True)
        db.create_function("geo_point_match", 4, geo_point_match, deterministic=True)
        db.create_function("geo_distance", 2, geo_distance, deterministic=True)
        db.create_collation(ROOT_COLLATION, compare_root)
        try:
            self.migrated = migrate(db)
        except BaseException:
            db.close()
            raise
        if self.rendering is not None:
            refresh(db, self.rendering)
        self._db = db
        if str(self.path) != ":memory:":
            self._checkpointer = Checkpointer(self.path, self._wal_limit)
            self._checkpointer.start()
            self._signal = OutboxSignal(self.path)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        if self._signal is not None:
            self._signal.close()
            self._signal = None
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._db is not None:
            if self._queued:  # accepted writes are committed, not dropped
                self._commit_queued(blocking=True)
            self._db.close()
            self._db = None

    # --- reads --------------------------------------------------------------------------

    async def get(self, tenant: str, entity_id: str) -> Entity | None:
        doc = await self.get_document(tenant, entity_id)
        return None if doc is None else orjson.loads(doc)

    def outage(self, error: BaseException) -> StoreUnavailable | None:
        if isinstance(error, sqlite3.OperationalError) and any(
            sign in str(error) for sign in _OUTAGES
        ):
            return StoreUnavailable(f"the SQLite database is unavailable ({error})")
        return super().outage(error)

    async def get_document(self, tenant: str, entity_id: str) -> bytes | None:
        row = self.db.execute(
            "SELECT doc FROM entities WHERE tenant = ? AND id = ?", (tenant, entity_id)
        ).fetchone()
        return None if row is None else row[0]  # a BLOB: bytes

    def use_rendering(self, rendering: DefaultRendering) -> None:
        self.rendering = rendering
        if self._db is not None:
            refresh(self._db, rendering)

    async def get_rendered(self, tenant: str, entity_id: str) -> StoredRendering | None:
        row = self.db.execute(
            _RENDERED,
            (tenant, entity_id),
        ).fetchone()
        return None if row is None else StoredRendering(row[0], row[1])

    async def get_many(self, tenant: str, entity_ids: Sequence[str]) -> dict[str, Entity]:
        found: dict[str, Entity] = {}
        ids = list(dict.fromkeys(entity_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for entity_id, doc in self.db.execute(
                f"SELECT id, doc FROM entities WHERE tenant = ? AND id IN ({marks})",
                (tenant, *chunk),
            ):
                found[entity_id] = orjson.loads(doc)
        return found

    async def query(self, tenant: str, query: EntityQuery) -> QueryResult:
        db = self.db
        if db.in_transaction:  # pragma: no cover - reads never run inside a group commit
            return self._query(tenant, query)
        # one snapshot: the plan's look at the indexes holds for the query it drives, and a
        # count for the page it comes with
        db.execute("BEGIN")
        try:
            return self._query(tenant, query)
        finally:
            db.execute("COMMIT")

    def _query(self, tenant: str, query: EntityQuery) -> QueryResult:
        """The page and the count, each from the index that suits it (`plan.py`): a page
        needs the first matches in order, a count every match."""
        rows: list[Any] = []
        if query.limit > 0:
            rows = self._page_rows(tenant, replace(query, count=False))
        count = None
        if query.count:
            count = count_by_types(self.db, tenant, query)
            if count is None:
                count = self._count(tenant, replace(query, limit=0, offset=0))
        if query.rendered:
            return QueryResult([doc or b"" for _, doc in rows], count, [r for r, _ in rows])
        return QueryResult([doc for (doc,) in rows], count)

    def _page_rows(self, tenant: str, query: EntityQuery) -> list[tuple[Any, ...]]:
        driver = choose(self.db, tenant, query, self._plan_counts)
        if driver is None and query.order:
            driver = order_driver(self.db, tenant, query)
        arms = typed_arms(query) if driver is None and not query.order else None
        if arms is not None:
            return self._typed_rows(tenant, query, arms)
        driven = driven_sql(tenant, query, driver)
        c = driven.compiled
        order = order_clause(driven.query, c) if query.order else "e.id"
        source = driven.source(keyed="e.doc" not in driven.where and "e.doc" not in order)
        # candidates are sorted, not walked in order: sort their ids, not their documents
        columns = "e.ent" if driven.driver is not None else _PAGE[query.rendered]
        rows = self.db.execute(
            f"SELECT {columns} FROM {source} WHERE {driven.where} ORDER BY {order} "
            "LIMIT ? OFFSET ?",
            (*driven.first, *c.params, query.limit, query.offset),
        ).fetchall()
        if driven.driver is None:
            return rows
        return self._page([ent for (ent,) in rows], query.rendered)

    def _typed_rows(
        self, tenant: str, query: EntityQuery, arms: tuple[str | None, ...]
    ) -> list[tuple[Any, ...]]:
        """The page of a query selecting by type, merged from walks of `entities_type_id` in
        id order, one per arm (`plan.typed_arms`): each stops where the page is full. The walk
        of every entity reached a common type's first only past the other types' entities
        whose ids sort before it (`type=WeatherObserved&limit=1`: 200 ms at 100,000, perf-2)."""
        selects = self._typed_selects(tenant, query, arms, f"e.id, {_PAGE[query.rendered]}")
        rows = self.db.execute(
            " UNION ALL ".join(sql for sql, _ in selects) + " ORDER BY 1 LIMIT ? OFFSET ?",
            (*(p for _, params in selects for p in params), query.limit, query.offset),
        ).fetchall()
        return [row[1:] for row in rows]

    def _typed_selects(
        self, tenant: str, query: EntityQuery, arms: tuple[str | None, ...], columns: str
    ) -> list[tuple[str, list[Any]]]:
        """One `SELECT columns` of the query's matches per arm, and its parameters."""
        selects: list[tuple[str, list[Any]]] = []
        for type1 in arms:
            c = Compiled(geo_each=True)  # a bounded geo-query here had many in its box
            where = where_clause(tenant, query, c)
            typed = "e.type1 IS NULL" if type1 is None else "e.type1 = ?"
            sql = (
                f"SELECT {columns} FROM entities e INDEXED BY entities_type_id "
                f"WHERE {typed} AND {where}"
            )
            selects.append((sql, [*([] if type1 is None else [type1]), *c.params]))
        return selects

    def _count(self, tenant: str, query: EntityQuery) -> int:
        driver = choose(self.db, tenant, query, self._plan_counts)
        arms = typed_arms(query) if driver is None else None
        if arms is not None:  # the type's entities, not every entity of the tenant
            selects = self._typed_selects(tenant, query, arms, "count(*)")
            return sum(int(self.db.execute(sql, p).fetchone()[0]) for sql, p in selects)
        # a walk of the tenant's id index, which has no `type1`: a probe of the type index
        # per entity costs less than reading each entity's row for it
        driven = driven_sql(tenant, query, driver, row_types=driver is not None)
        source = driven.source(keyed="e.doc" not in driven.where)
        (count,) = self.db.execute(
            f"SELECT count(*) FROM {source} WHERE {driven.where}",
            [*driven.first, *driven.compiled.params],
        ).fetchone()
        return int(count)

    def _page(self, ents: list[int], rendered: bool) -> list[tuple[Any, ...]]:
        """The page's columns (`_PAGE`) of entities by row number, in that order."""
        marks = ",".join("?" * len(ents))
        found = {
            row[0]: row[1:]
            for row in self.db.execute(
                f"SELECT e.ent, {_PAGE[rendered]} FROM entities e WHERE e.ent IN ({marks})", ents
            )
        }
        return [found[ent] for ent in ents]

    # --- writes -------------------------------------------------------------------------

    async def mutate(
        self, tenant: str, items: Sequence[tuple[str, Mutation]], *, history: bool = True
    ) -> list[Outcome]:
        return await self._in_group_commit(
            lambda: self._apply(tenant, items, history), entities=(tenant, items, history)
        )

    async def _in_group_commit(
        self,
        run: Callable[[], T],
        *,
        entities: tuple[str, Sequence[tuple[str, Mutation]], bool] | None = None,
    ) -> T:
        """`run()` inside the next group commit (in its own savepoint); its result once that
        transaction is committed, or its error (its own changes undone)."""
        if self._db is None:  # fail now, not in the commit callback
            raise StoreUnavailable("the store is not open")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self._queued:
            # one turn of the loop later: the requests that are ready meanwhile join this commit
            asyncio.get_running_loop().call_soon(self._commit_queued)
        self._queued.append(Queued(run, future, entities))
        result: T = await future
        return result

    def _commit_queued(self, *, blocking: bool = False) -> None:
        """Run every queued write in one transaction; answer each after the commit.

        Every call is answered whatever happens: with its outcomes once the commit is done,
        with its own error if it failed (its savepoint undone), or with the error that stopped
        the transaction. A caller is never left waiting. While another process holds the
        write lock this callback comes back a little later (the loop serves meanwhile) and
        the calls queued by then join the commit; `blocking` waits in SQLite instead.
        """
        self._queued = [call for call in self._queued if not call.future.done()]  # cancelled
        if not self._queued:
            return
        if not blocking and self._turns < GATHER_TURNS and len(self._queued) > self._gathered:
            self._gathered = len(self._queued)
            self._turns += 1
            asyncio.get_running_loop().call_soon(self._commit_queued)
            return
        if not blocking and self._db is not None:
            try:
                locked = try_begin(self._db)
            except sqlite3.Error as error:
                self._fail_queued(error)
                return
            if not locked:
                wait = self._busy.next_wait()
                if wait is None:
                    self._fail_queued(StoreUnavailable("the database stayed locked for 10 s"))
                else:
                    asyncio.get_running_loop().call_later(wait, self._commit_queued)
                return
            self._busy.reset()
        queued, self._queued = self._queued, []
        self._gathered = self._turns = 0
        answers: list[tuple[Queued, object, BaseException | None]] = []
        self._outbox_written = False
        try:
            db = self.db
            if blocking:
                db.execute("BEGIN IMMEDIATE")
            for run in runs(queued):
                if len(run) > 1 and self._apply_together(run, answers):
                    continue
                for call in run:
                    db.execute("SAVEPOINT call")
                    try:
                        answers.append((call, call.run(), None))
                    except Exception as error:  # this call's own failure: undo its items only
                        if not db.in_transaction:  # SQLite undid the whole transaction
                            raise  # (a full disk, an I/O error): every call fails with it
                        db.execute("ROLLBACK TO call")
                        answers.append((call, None, error))
                    db.execute("RELEASE call")
            db.execute("COMMIT")
        except BaseException as error:
            if self._db is not None and self._db.in_transaction:
                self._db.execute("ROLLBACK")
            for call in queued:
                call.future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        if self._outbox_written and self._signal is not None:
            self._signal.ring()  # the notifier process looks at the outbox now
        for call, answer, failure in answers:
            if failure is not None:
                call.future.set_exception(failure)
            else:
                call.future.set_result(answer)

    def _apply_together(
        self, run: list[Queued], answers: list[tuple[Queued, object, BaseException | None]]
    ) -> bool:
        """Apply consecutive `mutate` calls of one tenant as one: their items in their order,
        each seeing what the calls before it left (as one after the other would), written with
        one statement per table instead of a dozen per call (32 concurrent single creates cost
        ~40% less). False, nothing written, when the whole fails: the calls are then applied
        one by one, each in its own savepoint, so that a failure undoes only its own items."""
        first = run[0].entities
        assert first is not None
        tenant, _, history = first
        items: list[tuple[str, Mutation]] = []
        for call in run:
            assert call.entities is not None
            items.extend(call.entities[1])
        db = self.db
        db.execute("SAVEPOINT calls")
        try:
            outcomes = self._apply(tenant, items, history)
        except Exception:
            if not db.in_transaction:  # SQLite undid the whole transaction: nothing to retry
                raise
            db.execute("ROLLBACK TO calls")
            db.execute("RELEASE calls")
            return False
        db.execute("RELEASE calls")
        start = 0
        for call in run:
            assert call.entities is not None
            end = start + len(call.entities[1])
            answers.append((call, outcomes[start:end], None))
            start = end
        return True

    def _fail_queued(self, error: Exception) -> None:
        queued, self._queued = self._queued, []
        self._gathered = self._turns = 0
        for call in queued:
            call.future.set_exception(error)

    def _apply(
        self, tenant: str, items: Sequence[tuple[str, Mutation]], history: bool
    ) -> list[Outcome]:
        """One `mutate` call inside the open transaction.

        The mutations run first, each on the state the previous ones left; then every entity
        they touched is written once, from its stored state to its last (`IndexWrites`).
        """
        outcomes: list[Outcome] = []
        stored = self._load(tenant, [entity_id for entity_id, _ in items])
        current: dict[str, Entity | None] = {i: doc for i, (_, doc) in stored.items()}
        for entity_id, mutation in items:
            before = current.get(entity_id)
            try:
                after = mutation(before)
            except DalguError as error:
                outcomes.append(error)
                continue
            current[entity_id] = after
            outcomes.append(Change(entity_id, before, after))
        changes = [o for o in outcomes if isinstance(o, Change)]
        if not changes:
            return outcomes
        writes = IndexWrites(self.db, self.rendering)
        for entity_id in dict.fromkeys(c.entity_id for c in changes):
            ent, first = stored.get(entity_id, (None, None))
            last = current[entity_id]
            if ent is None or first is None:
                if last is not None:
                    writes.create(tenant, entity_id, last)
            elif last is None:
                writes.delete(tenant, ent, first)
            else:
                writes.update(tenant, ent, first, last)
        writes.flush()
        at = now_iso()
        if history:
            self._record_history(tenant, changes, at)
        wanted = self._change_filter(tenant)
        if wanted is not None:
            rows = [
                (c.entity_id, c.before, c.after) for c in changes if wanted.wants(c.before, c.after)
            ]
            if rows:
                self._append_changes(tenant, rows, at)
        return outcomes

    def _load(self, tenant: str, ids: list[str]) -> dict[str, tuple[int, Entity]]:
        found: dict[str, tuple[int, Entity]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for ent, entity_id, doc in self.db.execute(
                f"SELECT ent, id, doc FROM entities WHERE tenant = ? AND id IN ({marks})",
                (tenant, *chunk),
            ):
                found[entity_id] = (ent, orjson.loads(doc))
        return found

    # --- introspection ------------------------------------------------------------------

    async def types(self, tenant: str) -> list[TypeInfo]:
        return summary.types(self.db, tenant)

    async def attributes(self, tenant: str) -> list[AttributeInfo]:
        return summary.attributes(self.db, tenant)

    async def tenants(self) -> list[str]:
        # one index probe per tenant (a loose index scan), not a walk of every entity's key:
        # 0.2 ms instead of 8.5 ms at 100,000 entities (the Wi-Fi sweep asks every 30 s)
        return [t for (t,) in self.db.execute(_TENANTS)]

    # --- contexts -----------------------------------------------------------------------

    async def put_context(self, context_id: str, document: bytes, kind: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO contexts (id, kind, created_at, document) VALUES (?,?,?,?)",
            (context_id, kind, now_iso(), document),
        )

    async def get_context(self, context_id: str) -> tuple[bytes, str, str] | None:
        row = self.db.execute(
            "SELECT document, kind, created_at FROM contexts WHERE id = ?", (context_id,)
        ).fetchone()
        return None if row is None else (bytes(row[0]), row[1], row[2])

    async def list_contexts(self) -> list[tuple[str, str, str]]:
        return list(self.db.execute("SELECT id, kind, created_at FROM contexts ORDER BY id"))

    async def delete_context(self, context_id: str) -> bool:
        cursor = self.db.execute("DELETE FROM contexts WHERE id = ?", (context_id,))
        return cursor.rowcount > 0
