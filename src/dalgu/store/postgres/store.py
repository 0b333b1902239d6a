"""The production store: PostgreSQL 15 with PostGIS, through an asyncpg connection pool.

Reads take one pooled connection and one round trip (two with `count`). `mutate` runs its
whole batch in one transaction (see `batch.py`) and retries it from the start when it lost a
race it cannot see coming: two transactions creating the same new entity, or a deadlock.
Mutations are pure functions of the stored state, so running them again is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from dalgu.broker.model import now_iso
from dalgu.errors import BadRequestData, Conflict, StoreUnavailable
from dalgu.query.order import ROOT_COLLATION
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
from dalgu.store.postgres import outbox, summary
from dalgu.store.postgres.batch import EntityBatch
from dalgu.store.postgres.commands import PostgresCommandQueue
from dalgu.store.postgres.devices import PostgresDevices
from dalgu.store.postgres.fhir import PostgresFhir
from dalgu.store.postgres.gate import RUNNING, WriteGate
from dalgu.store.postgres.keys import AttributeKeys
from dalgu.store.postgres.opendata import PostgresDatasets
from dalgu.store.postgres.ordered import page_candidates
from dalgu.store.postgres.partitions import Partitions
from dalgu.store.postgres.point_reads import PointReads
from dalgu.store.postgres.query import (
    Compiled,
    KeyMap,
    KeyNeeds,
    needed_keys,
    order_clause,
    where_clause,
)
from dalgu.store.postgres.ranges import RangeCounts, range_page
from dalgu.store.postgres.registrations import PostgresRegistrations
from dalgu.store.postgres.renderings import refresh as refresh_renderings
from dalgu.store.postgres.runs import PostgresRunJournal
from dalgu.store.postgres.schema import migrate
from dalgu.store.postgres.statistics import PlannerStatistics
from dalgu.store.postgres.subscriptions import PostgresSubscriptions
from dalgu.store.postgres.temporal import PostgresTemporal
from dalgu.store.postgres.times import use_cached_times

log = logging.getLogger(__name__)
_RETRIES = 5
#: what a query reads of each entity of its page: its document, or (asked for renderings)
#: its kept rendering and, only where it has none, its document
_PAGE = {False: "e.doc", True: "e.rendered, CASE WHEN e.rendered IS NULL THEN e.doc END"}
#: an entity's kept rendering, or its document where it has none (`get_rendered`)
_RENDERED = f"SELECT {_PAGE[True]} FROM entities e WHERE e.tenant = $1 AND e.id = $2"
#: the same of several ids: one primary-key probe per id, whatever the statistics say (as
#: `get_many`; before a table's first ANALYZE the planner may take `tenant = $1` for selective)
_RENDERED_MANY = f"""
SELECT e.id, {_PAGE[True]} FROM unnest($2::text[]) AS k(id)
CROSS JOIN LATERAL (
    SELECT id, rendered, doc FROM entities WHERE tenant = $1 AND id = k.id OFFSET 0
) AS e
"""
# A skip scan over the primary key: one index probe per tenant, not one per entity.
_TENANTS = """
WITH RECURSIVE t(tenant) AS (
    SELECT min(tenant) FROM entities
    UNION ALL
    SELECT (SELECT min(tenant) FROM entities WHERE tenant > t.tenant) FROM t
    WHERE t.tenant IS NOT NULL
)
SELECT tenant FROM t WHERE tenant IS NOT NULL
"""


_SESSION = {
    # The best plan of a query depends on its values (`speed>120` matches 5% of the entities:
    # drive from the index; `speed>60` matches half: walk ids and stop at the limit), and a
    # prepared statement would switch to one generic plan after five runs (0.2 ms → 250 ms).
    "plan_cache_mode": "force_custom_plan",
    # JIT compilation costs more than the short queries of a broker ever save, and parallel
    # workers only compete with the concurrent requests for the cores.
    "jit": "off",
    "max_parallel_workers_per_gather": "0",
    # A process that hangs inside a transaction (its event loop stuck) would hold the rows it
    # changed, and the outbox's horizon (`outbox.py`) with them: the server ends such a
    # transaction after a minute. The store's statements follow each other without waits.
    "idle_in_transaction_session_timeout": "60s",
}


async def _keep_session(conn: Any) -> None:
    """Release a connection to the pool as it is.

    The store never changes session state (no SET, LISTEN, cursors or session advisory locks
    outside `migrate`, which releases its own), and asyncpg rolls back any open transaction
    itself, so the default reset query would be a wasted round trip on every release: it
    halves point-read throughput.
    """


#: what asyncpg raises when the server is down, restarting, out of connections or unreachable
_OUTAGES = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)


#: the role's connection limit (-1: none) and what the server leaves to ordinary roles
_CONNECTION_LIMITS = """
SELECT (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user),
       current_setting('max_connections')::int
       - current_setting('superuser_reserved_connections')::int
"""


class PostgresEntityStore(
    PostgresTemporal,
    EntityStore,
    PostgresDevices,
    PostgresSubscriptions,
    PostgresCommandQueue,
    PostgresFhir,
    PostgresRunJournal,
    PostgresRegistrations,
    PostgresDatasets,
):
    """Entities of every tenant in one PostgreSQL database (`dsn`), `pool_size` connections."""

    def __init__(self, dsn: str, pool_size: int = 8, write_transactions: int = RUNNING) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self._pool: Any = None
        self._keys = AttributeKeys()
        # this process's batches of the same entities queue here, and any batch once
        # `write_transactions` are under way (leaving the pool's other connections to reads);
        # those waiting run together
        self._gate = WriteGate(self._mutate, running=min(write_transactions, pool_size))
        self._statistics: PlannerStatistics | None = None
        self._range_counts = RangeCounts()  # the range probe's counts, kept 2 s
        # GETs by id: those that wait for a free read, read together
        self._point_reads = PointReads(self._rendered_one, self._rendered_many)
        self._summary_writes: dict[str, int] = {}  # writes since a tenant's last fold
        self.partitions = Partitions()
        self._collations: set[str] = set()  # ICU collations made for orderBy
        self._horizon = outbox.Horizon()  # how far this process's notifier may read
        self._waker: outbox.Waker | None = None
        # whether every kept rendering is of `rendering`'s version (reads use them only then)
        self._renderings_current = False
        self._refreshing: asyncio.Task[None] | None = None

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise StoreUnavailable("the store is not open")
        return self._pool

    async def connection_limit(self) -> int | None:
        async with self.pool.acquire() as conn:
            role, server = await conn.fetchrow(_CONNECTION_LIMITS)
        return int(server) if role is None or role < 0 else min(int(role), int(server))

    async def open(self) -> None:
        try:
            pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.pool_size,
                server_settings=_SESSION,
                reset=_keep_session,
                init=use_cached_times,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        try:
            async with pool.acquire() as conn:
                self.migrated = await migrate(conn)
                await self._open_history(conn)
                if self.rendering is not None:
                    await refresh_renderings(conn, self.rendering)
                    self._renderings_current = True
            statistics = PlannerStatistics(pool)
            await statistics.start()
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self._statistics = statistics

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(BaseException):
                await self._refreshing
            self._refreshing = None
        await self.stop_listening()
        await self._close_outbox()
        if self._statistics is not None:
            await self._statistics.stop()
            self._statistics = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # --- reads --------------------------------------------------------------------------

    def outage(self, error: BaseException) -> StoreUnavailable | None:
        if isinstance(error, _OUTAGES) or (
            isinstance(error, asyncpg.InterfaceError) and "closed" in str(error)
        ):
            return StoreUnavailable(f"PostgreSQL is unavailable ({type(error).__name__}: {error})")
        return super().outage(error)

    async def get(self, tenant: str, entity_id: str) -> Entity | None:
        doc = await self.get_document(tenant, entity_id)
        return None if doc is None else orjson.loads(doc)

    async def get_document(self, tenant: str, entity_id: str) -> bytes | None:
        doc: bytes | None = await self.pool.fetchval(
            "SELECT doc FROM entities WHERE tenant = $1 AND id = $2", tenant, entity_id
        )
        return doc

    def use_rendering(self, rendering: DefaultRendering) -> None:
        self.rendering = rendering
        self._renderings_current = False
        if self._pool is not None:  # open: made again in the background, documents till then
            self._refreshing = asyncio.ensure_future(self._refresh(rendering))

    async def _refresh(self, rendering: DefaultRendering) -> None:
        async with self.pool.acquire() as conn:
            await refresh_renderings(conn, rendering)
        self._renderings_current = self.rendering is rendering

    async def get_rendered(self, tenant: str, entity_id: str) -> StoredRendering | None:
        if not self._renderings_current:
            return await super().get_rendered(tenant, entity_id)
        row = await self._point_reads.read(tenant, entity_id)
        return None if row is None else StoredRendering(row[0], row[1])

    async def _rendered_one(self, tenant: str, entity_id: str) -> tuple[Any, ...] | None:
        row = await self.pool.fetchrow(_RENDERED, tenant, entity_id)
        return None if row is None else tuple(row)

    async def _rendered_many(
        self, tenant: str, entity_ids: Sequence[str]
    ) -> dict[str, tuple[Any, ...]]:
        rows = await self.pool.fetch(_RENDERED_MANY, tenant, list(entity_ids))
        return {row[0]: (row[1], row[2]) for row in rows}

    async def get_many(self, tenant: str, entity_ids: Sequence[str]) -> dict[str, Entity]:
        rows = await self.pool.fetch(
            "SELECT e.id, e.doc FROM unnest($2::text[]) AS k(id) CROSS JOIN LATERAL "
            "(SELECT id, doc FROM entities WHERE tenant = $1 AND id = k.id OFFSET 0) AS e",
            tenant,
            list(dict.fromkeys(entity_ids)),
        )
        return {entity_id: orjson.loads(doc) for entity_id, doc in rows}

    async def query(self, tenant: str, query: EntityQuery) -> QueryResult:
        async with self.pool.acquire() as conn:
            keys = await self._resolve(conn, tenant, needed_keys(query))
            c = Compiled()
            where = where_clause(tenant, query, keys, c)
            params = list(c.params)
            # the page from an index's candidates, when one gives few (`ordered`, `ranges`)
            order, page_where, page_c = "e.id", where, c
            candidates = None
            if query.order:
                candidates = await page_candidates(conn, query, keys, where, c)
            if candidates is not None:
                page_where = f"{where} AND {candidates}"
            else:
                ranged = await range_page(conn, tenant, query, keys, self._range_counts)
                if ranged is not None:
                    page_where, page_c = ranged
            if query.order:
                collation = await self._collation(conn, query.collation)
                order = order_clause(query, keys, page_c, collation)
            page = f"LIMIT {page_c.p(query.limit)} OFFSET {page_c.p(query.offset)}"
            rendered = query.rendered and self._renderings_current
            try:
                rows: list[Any] = []
                if query.limit > 0:
                    rows = await conn.fetch(
                        f"SELECT {_PAGE[rendered]} FROM entities e WHERE {page_where} "
                        f"ORDER BY {order} {page}",
                        *page_c.params,
                    )
                count = None
                alone = query.types_alone() if query.count else None
                if alone is not None and len(alone) == 1:  # kept by the writes
                    count = await summary.entities_of(conn, tenant, alone[0])
                elif query.count:
                    count = await conn.fetchval(
                        f"SELECT count(*) FROM entities e WHERE {where}", *params
                    )
            except asyncpg.InvalidRegularExpressionError as exc:
                raise BadRequestData(f"invalid regular expression: {exc}") from None
        if rendered:
            return QueryResult([doc or b"" for _, doc in rows], count, [r for r, _ in rows])
        if query.rendered:  # none kept (yet): none in the page
            return QueryResult([doc for (doc,) in rows], count, [None] * len(rows))
        return QueryResult([doc for (doc,) in rows], count)

    async def _resolve(self, conn: Any, tenant: str, needs: KeyNeeds) -> KeyMap:
        """The index keys (attribute, path) a query reads, as their numbers in `tenant`."""
        keys = KeyMap()
        if needs.exact:
            found = await self._keys.find(conn, tenant, needs.exact)
            keys.exact = {(name, path): nid for (_, name, path), nid in found.items()}
        for name in needs.by_prefix:
            keys.paths[name] = await self._keys.paths(conn, tenant, name)
        return keys

    async def order_by(self, conn: Any, tenant: str, query: EntityQuery, c: Compiled) -> str:
        """ORDER BY for the ordering of `query` (alias `e`: the entities table), its keys and
        collation resolved on `conn`."""
        keys = await self._resolve(conn, tenant, needed_keys(query))
        collation = await self._collation(conn, query.collation)
        return order_clause(query, keys, c, collation)

    async def _collation(self, conn: Any, tag: str) -> str:
        """The SQL name of the ICU collation `tag` (an RFC 6067 tag that `parse_collation`
        checked), made in the database the first time a query orders by it."""
        if tag == ROOT_COLLATION:
            return '"und-x-icu"'
        name = f"dalgu-{tag}"
        if name not in self._collations:
            # another connection may make it at the same moment
            with contextlib.suppress(asyncpg.UniqueViolationError):
                await conn.execute(
                    f"CREATE COLLATION IF NOT EXISTS \"{name}\" (provider = icu, locale = '{tag}')"
                )
            self._collations.add(name)
        return f'"{name}"'

    # --- writes -------------------------------------------------------------------------

    async def mutate(
        self, tenant: str, items: Sequence[tuple[str, Mutation]], *, history: bool = True
    ) -> list[Outcome]:
        if not items:
            return []
        return await self._gate.mutate(tenant, items, history)

    async def _mutate(
        self, tenant: str, items: Sequence[tuple[str, Mutation]], history: bool
    ) -> list[Outcome]:
        """The items in one transaction. A value PostgreSQL refuses (a data exception, SQL
        class 22) fails the item that holds it, not its batch: the items are then written one
        by one, and the one refused is a BadRequestData outcome (a batch's 207)."""
        try:
            return await self._mutate_together(tenant, items, history)
        except asyncpg.DataError as error:
            if len(items) == 1:
                entity_id = items[0][0]
                return [BadRequestData(f"entity {entity_id}: the store refused a value: {error}")]
        outcomes: list[Outcome] = []
        for item in items:
            outcomes.extend(await self._mutate(tenant, [item], history))
        return outcomes

    async def _mutate_together(
        self, tenant: str, items: Sequence[tuple[str, Mutation]], history: bool
    ) -> list[Outcome]:
        async with self.pool.acquire() as conn:
            for _ in range(_RETRIES):
                batch = EntityBatch(
                    conn,
                    tenant,
                    self._keys,
                    self.partitions if history else None,
                    self.rendering,
                )
                try:
                    async with conn.transaction():
                        outcomes = await batch.run(items)
                        changes = [o for o in outcomes if isinstance(o, Change)]
                        appended = await self.append_changes(
                            conn,
                            tenant,
                            [(c.entity_id, c.before, c.after) for c in changes],
                            now_iso(),
                        )
                except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError):
                    continue
                if appended:
                    self.outbox_written()
                await self._fold_now_and_then(conn, tenant)
                self._keys.remember(batch.added_keys)
                self.partitions.remember(batch.added_partitions)
                if self._statistics is not None:
                    self._statistics.wrote(len(items))
                return outcomes
        raise Conflict("the entities were changed concurrently; retry the request")

    async def _fold_now_and_then(self, conn: Any, tenant: str) -> None:
        """Fold the tenant's summary changes every `FOLD_EVERY` writes (after the write has
        committed: a failure here loses nothing, the next fold does the work)."""
        writes = self._summary_writes.get(tenant, 0) + 1
        self._summary_writes[tenant] = writes % summary.FOLD_EVERY
        if writes < summary.FOLD_EVERY:
            return
        if len(self._summary_writes) > 4096:
            self._summary_writes.clear()
        try:
            await summary.fold(conn, tenant)
        except asyncpg.PostgresError as error:
            log.warning("folding the summary of tenant %r failed: %s", tenant, error)

    # --- introspection ------------------------------------------------------------------

    async def types(self, tenant: str) -> list[TypeInfo]:
        async with self.pool.acquire() as conn:
            return await summary.types(conn, tenant)

    async def attributes(self, tenant: str) -> list[AttributeInfo]:
        async with self.pool.acquire() as conn:
            return await summary.attributes(conn, tenant)

    async def tenants(self) -> list[str]:
        return [tenant for (tenant,) in await self.pool.fetch(_TENANTS)]

    # --- contexts -----------------------------------------------------------------------

    async def put_context(self, context_id: str, document: bytes, kind: str) -> None:
        await self.pool.execute(
            "INSERT INTO contexts (id, kind, created_at, document) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
            "created_at = excluded.created_at, document = excluded.document",
            context_id,
            kind,
            now_iso(),
            document,
        )

    async def get_context(self, context_id: str) -> tuple[bytes, str, str] | None:
        row = await self.pool.fetchrow(
            "SELECT document, kind, created_at FROM contexts WHERE id = $1", context_id
        )
        return None if row is None else (bytes(row[0]), row[1], row[2])

    async def list_contexts(self) -> list[tuple[str, str, str]]:
        rows = await self.pool.fetch("SELECT id, kind, created_at FROM contexts ORDER BY id")
        return [(r[0], r[1], r[2]) for r in rows]

    async def delete_context(self, context_id: str) -> bool:
        status = await self.pool.execute("DELETE FROM contexts WHERE id = $1", context_id)
        return bool(status != "DELETE 0")
