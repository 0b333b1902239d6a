"""Subscriptions, the change outbox and pending deliveries in the PostgreSQL store.

Several server processes share one database, so three things differ from SQLite:

- The outbox is written in the transaction of the entity change and read up to a horizon
  below which nothing can still appear (`outbox.py`): one entity's changes in order, and no
  lock that makes commits wait for each other.
- A consumer advances its cursor only from the position it read (compare and set): when two
  processes match the same changes, one queues the deliveries and the other's are dropped.
- `due_deliveries` leases what it returns (`lease_until`, `LEASE` seconds ahead), one taker at
  a time (a transaction-level advisory lock; rows also locked with SKIP LOCKED), so two senders
  never send the same notification at once nor a subscription's out of order; a lease that
  runs out (its sender died) makes the delivery due again: at-least-once.
- A commit that wrote to the outbox is followed by a NOTIFY on `dalgu_outbox`; notifiers
  LISTEN instead of polling.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import orjson

from dalgu.broker.model import now_iso
from dalgu.errors import AlreadyExists
from dalgu.store.base import ChangeRecord, Delivery, SubscriptionStore, sending_status
from dalgu.store.change_filter import change_filter
from dalgu.store.postgres import outbox
from dalgu.store.postgres.bulk import SMALL
from dalgu.store.postgres.outbox import CHANNEL

TAKE_LOCK = 0x74616B65  # "take"
LEASE = 30.0  # seconds a sender holds the deliveries it took
# the application_name of a notifier's listening connection: while it is connected, that
# notifier lives, and its leases are its own
NOTIFIER_APPLICATION = "dalgu-notifier"
#: seconds before connecting the listener again after it died, doubling up to the last
RELISTEN_FIRST, RELISTEN_LAST = 0.5, 10.0

log = logging.getLogger(__name__)
_OTHER_NOTIFIERS = """
SELECT count(*) FROM pg_stat_activity
WHERE application_name = $1 AND datname = current_database() AND pid <> $2
"""
_HAS_SUBSCRIPTIONS = "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE tenant = $1)"
#: the queues of deliveries (one per subscription) whose oldest delivery is due and not
#: leased, oldest head first: a loose scan of `deliveries_subscription`, one seek per queue,
#: whatever the backlog behind a leased or waiting head (reading the due deliveries in id
#: order and dropping those behind one took 7 s at 66,000 waiting for a dead endpoint)
_DUE_QUEUES = """
WITH RECURSIVE queue AS (
    (SELECT tenant, subscription_id FROM deliveries ORDER BY tenant, subscription_id LIMIT 1)
    UNION ALL
    SELECT next.tenant, next.subscription_id FROM queue CROSS JOIN LATERAL (
        SELECT d.tenant, d.subscription_id FROM deliveries d
        WHERE (d.tenant, d.subscription_id) > (queue.tenant, queue.subscription_id)
        ORDER BY d.tenant, d.subscription_id LIMIT 1
    ) next
)
SELECT queue.tenant, queue.subscription_id FROM queue CROSS JOIN LATERAL (
    SELECT d.id, d.next_at, d.lease_until FROM deliveries d
    WHERE d.tenant = queue.tenant AND d.subscription_id = queue.subscription_id
    ORDER BY d.id LIMIT 1
) head
WHERE head.next_at <= $1 AND head.lease_until <= $1
ORDER BY head.id
"""
#: a queue's deliveries from its oldest
_QUEUE = """
SELECT id, payload, attempts, next_at, lease_until FROM deliveries
WHERE tenant = $1 AND subscription_id = $2 ORDER BY id LIMIT $3
"""


class PostgresSubscriptions(SubscriptionStore):
    """Mixed into `PostgresEntityStore`: shares its pool."""

    record_all_changes: bool = False
    dsn: str  # provided by the entity store
    _listener: Any = None
    _listening: bool = False  # between `listen` and `stop_listening`
    _relisten: asyncio.Task[None] | None = None  # connecting again after the listener died
    _leases_recovered: bool = False

    @property
    def pool(self) -> Any:  # provided by the entity store
        raise NotImplementedError

    _cursors_read: dict[str, int]
    _horizon: outbox.Horizon  # provided by the entity store, as `_waker`
    _waker: outbox.Waker | None

    # --- the outbox, written by EntityBatch inside the change's transaction ----------------

    async def append_changes(
        self, conn: Any, tenant: str, rows: list[tuple[str, Any, Any]], at: str
    ) -> bool:
        """Write the changes to the outbox in `conn`'s transaction; True when it did (the
        caller then calls `outbox_written` once the transaction has committed)."""
        if not rows:
            return False
        always = self.record_all_changes
        # many: their documents are not encoded and sent for a tenant without subscriptions
        if not always and len(rows) > SMALL and not await conn.fetchval(_HAS_SUBSCRIPTIONS, tenant):
            return False
        # the append asks for a subscription that could match each change itself
        return await outbox.append(conn, tenant, rows, at, always=always)

    def outbox_written(self) -> None:
        """Wake the notifiers: a transaction that wrote to the outbox has committed."""
        if self._waker is None:
            self._waker = outbox.Waker(self.pool)
        self._waker.wake()

    async def _close_outbox(self) -> None:
        waker, self._waker = self._waker, None
        if waker is not None:
            await waker.close()

    # --- subscriptions ----------------------------------------------------------------------

    async def subscription_generation(self) -> int:
        value = await self.pool.fetchval(
            "SELECT value FROM generations WHERE name = 'subscriptions'"
        )
        return int(value or 0)

    async def put_subscription(
        self, tenant: str, subscription_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        doc = orjson.dumps(document)
        wanted = change_filter([document])
        types = None if wanted is None or wanted.types is None else sorted(wanted.types)
        async with self.pool.acquire() as conn, conn.transaction():
            if create:
                try:
                    await conn.execute(
                        "INSERT INTO subscriptions (tenant, id, doc, created, watched_types, "
                        f"origin) VALUES ($1, $2, $3, $4, $5, ({outbox.DRAWN}))",
                        tenant,
                        subscription_id,
                        doc,
                        document.get("createdAt", ""),
                        types,
                    )
                except asyncpg.UniqueViolationError:
                    raise AlreadyExists(f"subscription {subscription_id} already exists") from None
            else:
                await conn.execute(
                    "UPDATE subscriptions SET doc = $3, watched_types = $4 "
                    "WHERE tenant = $1 AND id = $2",
                    tenant,
                    subscription_id,
                    doc,
                    types,
                )
            await _bump(conn)

    async def get_subscription(self, tenant: str, subscription_id: str) -> dict[str, Any] | None:
        doc = await self.pool.fetchval(
            "SELECT doc FROM subscriptions WHERE tenant = $1 AND id = $2", tenant, subscription_id
        )
        return None if doc is None else dict(orjson.loads(doc))

    async def subscription_origins(self, tenant: str) -> dict[str, int]:
        # a change whose ticket was drawn before is skipped even if it commits just after: its
        # write began before the subscription was there (and may not have seen it)
        rows = await self.pool.fetch(
            "SELECT id, origin FROM subscriptions WHERE tenant = $1", tenant
        )
        return {subscription_id: int(origin) for subscription_id, origin in rows}

    async def list_subscriptions(
        self, tenant: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        where = "WHERE tenant = $1" if tenant is not None else "WHERE $1::text IS NULL"
        async with self.pool.acquire() as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM subscriptions {where}", tenant)
            rows = await conn.fetch(
                f"SELECT doc FROM subscriptions {where} ORDER BY tenant, created, id "
                "LIMIT $2 OFFSET $3",
                tenant,
                limit,
                offset,
            )
        return [dict(orjson.loads(doc)) for (doc,) in rows], int(total)

    async def delete_subscription(self, tenant: str, subscription_id: str) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "DELETE FROM subscriptions WHERE tenant = $1 AND id = $2", tenant, subscription_id
            )
            await conn.execute(
                "DELETE FROM deliveries WHERE tenant = $1 AND subscription_id = $2",
                tenant,
                subscription_id,
            )
            await _bump(conn)
        return bool(status != "DELETE 0")

    # --- the consumers of the outbox -------------------------------------------------------

    async def changes_after(self, consumer: str, limit: int) -> list[ChangeRecord]:
        async with self.pool.acquire() as conn:
            start = await conn.fetchval("SELECT seq FROM cursors WHERE consumer = $1", consumer)
            start = 0 if start is None else int(start)
            horizon = await self._horizon.advance(conn)
            rows = await outbox.read(conn, start, horizon, limit) if horizon > start else []
        self._read_positions()[consumer] = start
        return [
            ChangeRecord(
                int(seq),
                tenant,
                entity_id,
                None if before is None else orjson.loads(before),
                None if after is None else orjson.loads(after),
                at,
            )
            for seq, tenant, entity_id, before, after, at in rows
        ]

    async def start_consumer(self, consumer: str) -> None:
        await self.pool.execute(
            "INSERT INTO cursors (consumer, seq) "
            "VALUES ($1, coalesce((SELECT min(seq) FROM cursors), 0)) "
            "ON CONFLICT (consumer) DO NOTHING",
            consumer,
        )

    async def stop_consumer(self, consumer: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM cursors WHERE consumer = $1", consumer)
            await conn.execute(outbox.FORGET)

    async def oldest_unmatched(self, consumer: str) -> str | None:
        at: str | None = await self.pool.fetchval(
            "SELECT at FROM changes WHERE ticket > coalesce("
            "(SELECT seq FROM cursors WHERE consumer = $1), 0) ORDER BY ticket, seq LIMIT 1",
            consumer,
        )
        return at

    def _read_positions(self) -> dict[str, int]:
        try:
            return self._cursors_read
        except AttributeError:
            self._cursors_read = {}
            return self._cursors_read

    async def commit_changes(
        self, consumer: str, last_seq: int, deliveries: Sequence[tuple[str, str, bytes]]
    ) -> list[Delivery]:
        read_from = self._read_positions().get(consumer, 0)
        now = time.time()
        async with self.pool.acquire() as conn, conn.transaction():
            moved = await conn.fetchval(
                "INSERT INTO cursors (consumer, seq) VALUES ($1, $2) "
                "ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq "
                "WHERE cursors.seq = $3 RETURNING 1",
                consumer,
                last_seq,
                read_from,
            )
            if moved is None:  # another process matched these changes first
                return []
            if deliveries:
                await conn.execute(
                    "INSERT INTO deliveries (tenant, subscription_id, payload, next_at) "
                    "SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::float8[])",
                    [tenant for tenant, _, _ in deliveries],
                    [sub for _, sub, _ in deliveries],
                    [payload for _, _, payload in deliveries],
                    [now] * len(deliveries),
                )
            await conn.execute(outbox.FORGET)
        self._read_positions()[consumer] = last_seq
        return []  # several notifiers may run: the deliveries are taken with due_deliveries

    async def enqueue(self, deliveries: Sequence[tuple[str, str, bytes]]) -> None:
        if not deliveries:
            return
        now = time.time()
        await self.pool.execute(
            "INSERT INTO deliveries (tenant, subscription_id, payload, next_at) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::float8[])",
            [tenant for tenant, _, _ in deliveries],
            [sub for _, sub, _ in deliveries],
            [payload for _, _, payload in deliveries],
            [now] * len(deliveries),
        )

    async def due_deliveries(self, now: float, limit: int) -> list[Delivery]:
        # takers queue on a lock, so each sees the leases of the one before it: a
        # subscription whose older delivery is leased or waits for a retry yields nothing
        # newer, and per-subscription order holds across processes
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", TAKE_LOCK)
            await self._recover_leases(conn)
            out: list[Delivery] = []
            for tenant, sub in await conn.fetch(_DUE_QUEUES, now):
                for i, payload, attempts, next_at, lease_until in await conn.fetch(
                    _QUEUE, tenant, sub, limit - len(out)
                ):
                    if next_at > now or lease_until > now:  # waits for a retry, or leased
                        break
                    out.append(Delivery(int(i), tenant, sub, bytes(payload), int(attempts), now))
                if len(out) >= limit:
                    break
            await conn.execute(
                "UPDATE deliveries SET lease_until = $1 WHERE id = ANY($2::bigint[])",
                now + LEASE,
                [d.id for d in out],
            )
        out.sort(key=lambda d: d.id)
        if out:
            # counted as sent before they go out, in a transaction of its own: in the take's,
            # locking subscriptions after deliveries could deadlock with deleting one
            async with self.pool.acquire() as conn, conn.transaction():
                await _count_sent(conn, out, 1)
        return out

    async def release_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            await _count_sent(conn, deliveries, -1)
            await conn.execute(
                "UPDATE deliveries SET lease_until = 0 WHERE id = ANY($1::bigint[])",
                [d.id for d in deliveries],
            )

    async def trim_deliveries(self, tenant: str, subscription_id: str, keep: int) -> int:
        # under the takers' lock: a take in progress never returns one dropped meanwhile
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", TAKE_LOCK)
            status = await conn.execute(
                "DELETE FROM deliveries WHERE tenant = $1 AND subscription_id = $2 "
                "AND attempts = 0 AND lease_until <= $3 AND id <= (SELECT id FROM deliveries "
                "WHERE tenant = $1 AND subscription_id = $2 ORDER BY id DESC LIMIT 1 OFFSET $4)",
                tenant,
                subscription_id,
                time.time(),
                keep,
            )
        return int(str(status).split()[-1])

    @property
    def lease(self) -> float:
        return LEASE

    async def renew_leases(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        await self.pool.execute(
            "UPDATE deliveries SET lease_until = $1 WHERE id = ANY($2::bigint[]) "
            "AND lease_until > 0",
            time.time() + LEASE,
            [d.id for d in deliveries],
        )

    async def _recover_leases(self, conn: Any) -> None:
        """Once, in a listening notifier's first take: when no other notifier is connected,
        the leases in the table are those of notifiers that died (`kill -9`, a lost machine),
        and their deliveries are due now rather than when the leases run out."""
        if self._leases_recovered or self._listener is None:
            return
        self._leases_recovered = True
        others = await conn.fetchval(
            _OTHER_NOTIFIERS, NOTIFIER_APPLICATION, self._listener.get_server_pid()
        )
        if others == 0:
            await conn.execute("UPDATE deliveries SET lease_until = 0 WHERE lease_until > 0")

    async def listen(self, wake: Callable[[], None]) -> bool:
        self._listening = True
        await self._connect_listener(wake)
        return True

    async def _connect_listener(self, wake: Callable[[], None]) -> None:
        # a connection of its own: a pooled one would go back to the pool and stop listening;
        # named, so that other notifiers can tell this one lives (`_recover_leases`)
        conn = await asyncpg.connect(
            self.dsn, server_settings={"application_name": NOTIFIER_APPLICATION}
        )
        await conn.add_listener(CHANNEL, lambda *_: wake())
        conn.add_termination_listener(lambda _: self._listener_lost(wake))
        self._listener = conn

    def _listener_lost(self, wake: Callable[[], None]) -> None:
        """The listening connection died (PostgreSQL restarted, the network cut): connect again,
        or wake-ups stop and other notifiers take this one for dead."""
        if not self._listening:
            return
        self._listener = None
        self._relisten = asyncio.get_running_loop().create_task(self._reconnect_listener(wake))

    async def _reconnect_listener(self, wake: Callable[[], None]) -> None:
        delay = RELISTEN_FIRST
        while self._listening:
            try:
                await self._connect_listener(wake)
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                log.warning("notifier's LISTEN connection: %s; again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RELISTEN_LAST)
                continue
            log.warning("notifier's LISTEN connection is back")
            wake()  # whatever was committed meanwhile
            return

    async def stop_listening(self) -> None:
        self._listening = False
        relisten, self._relisten = self._relisten, None
        if relisten is not None:
            relisten.cancel()
        conn, self._listener = self._listener, None
        if conn is not None:
            await conn.close()

    async def complete_deliveries(
        self, deliveries: Sequence[Delivery], status: dict[str, Any]
    ) -> None:
        if not deliveries:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            # the subscription's row first, as deleting a subscription locks it (`_merge_status`)
            await _merge_status(conn, deliveries[0].tenant, deliveries[0].subscription_id, status)
            await conn.execute(
                "DELETE FROM deliveries WHERE id = ANY($1::bigint[])", [d.id for d in deliveries]
            )

    async def finish_delivery(
        self, delivery: Delivery, *, ok: bool, retry_at: float | None, status: dict[str, Any]
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await _merge_status(conn, delivery.tenant, delivery.subscription_id, status)
            if retry_at is None:
                await conn.execute("DELETE FROM deliveries WHERE id = $1", delivery.id)
            else:
                await conn.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, next_at = $2, lease_until = 0 "
                    "WHERE id = $1",
                    delivery.id,
                    retry_at,
                )


async def _bump(conn: Any) -> None:
    await conn.execute("UPDATE generations SET value = value + 1 WHERE name = 'subscriptions'")


async def _count_sent(conn: Any, deliveries: Sequence[Delivery], sign: int) -> None:
    """`sending_status` merged; subscriptions locked in one order, so that notifiers counting
    at once do not deadlock."""
    for tenant, sub, status in sending_status(deliveries, sign, now_iso()):
        await _merge_status(conn, tenant, sub, status)


async def _merge_status(
    conn: Any, tenant: str, subscription_id: str, status: dict[str, Any]
) -> None:
    """Add a delivery's outcome to its subscription's status. Called before the transaction
    touches the deliveries: every transaction that writes both locks the subscription's row
    first (deleting a subscription deletes its row, then its deliveries), else recording a
    sent notification and deleting its subscription deadlock."""
    if not status:
        return
    table = "subscriptions"
    doc = await conn.fetchval(
        "SELECT doc FROM subscriptions WHERE tenant = $1 AND id = $2 FOR UPDATE",
        tenant,
        subscription_id,
    )
    if doc is None:  # a context source registration subscription's deliveries share the queue
        table = "csource_subscriptions"
        doc = await conn.fetchval(
            "SELECT doc FROM csource_subscriptions WHERE tenant = $1 AND id = $2 FOR UPDATE",
            tenant,
            subscription_id,
        )
    if doc is None:
        return
    document = orjson.loads(doc)
    counters = document.setdefault("status", {})
    for key, value in status.items():
        if key in ("timesSent", "timesFailed"):
            counters[key] = counters.get(key, 0) + value
        else:
            counters[key] = value
    await conn.execute(
        f"UPDATE {table} SET doc = $3 WHERE tenant = $1 AND id = $2",
        tenant,
        subscription_id,
        orjson.dumps(document),
    )
