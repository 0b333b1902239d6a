"""Subscriptions, the change outbox and pending deliveries in the SQLite store."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from dalgu.broker.model import now_iso
from dalgu.errors import AlreadyExists
from dalgu.store.base import ChangeRecord, Delivery, SubscriptionStore, sending_status
from dalgu.store.change_filter import EVERYTHING, ChangeFilter, change_filter
from dalgu.store.sqlite.lock import transaction
from dalgu.store.sqlite.outbox_signal import OutboxListener, OutboxSignal

LEASE = 30.0  # seconds a sender holds the deliveries it took

#: the next queue of deliveries after a (tenant, subscription) and its head: one seek of
#: `deliveries_subscription`, whose order puts each queue's oldest delivery first (in the
#: tenant, then in the next tenant: SQLite reads `(tenant, subscription_id) > (?, ?)` by
#: seeking the tenant and walking its entries, 2 ms past a queue of 30,000)
_NEXT_QUEUE = (
    "SELECT tenant, subscription_id, id, next_at, lease_until FROM deliveries "
    "WHERE tenant = ? AND subscription_id > ? ORDER BY subscription_id, id LIMIT 1"
)
_NEXT_TENANT = (
    "SELECT tenant, subscription_id, id, next_at, lease_until FROM deliveries "
    "WHERE tenant > ? ORDER BY tenant, subscription_id, id LIMIT 1"
)
#: a queue's deliveries from its oldest
_QUEUE = (
    "SELECT id, payload, attempts, next_at, lease_until FROM deliveries "
    "WHERE tenant = ? AND subscription_id = ? ORDER BY id LIMIT ?"
)
#: the lease of a queue's newest delivery: when it is held, so are all of the queue's (its
#: deliveries are taken oldest first, and whatever gives one back gives back all behind it)
_NEWEST_LEASE = (
    "SELECT lease_until FROM deliveries WHERE tenant = ? AND subscription_id = ? "
    "ORDER BY id DESC LIMIT 1"
)
#: changes every consumer has read past are dropped from the outbox
_FORGET = "DELETE FROM changes WHERE seq <= (SELECT min(seq) FROM cursors)"
# a subscription's untried, unleased deliveries older than its `keep` newest (the walk to the
# cut costs `keep` index entries; nothing when fewer wait)
_TRIM = """
DELETE FROM deliveries WHERE tenant = ? AND subscription_id = ? AND attempts = 0
    AND lease_until <= ? AND id <= (SELECT id FROM deliveries
        WHERE tenant = ? AND subscription_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
"""


class SqliteSubscriptions(SubscriptionStore):
    """Mixed into `SqliteEntityStore`: shares its connection and transactions."""

    @property
    def db(self) -> sqlite3.Connection:  # provided by the entity store
        raise NotImplementedError

    record_all_changes: bool = False
    _leases_recovered: bool = False
    # the entity store sets these when it opens a file (not `:memory:`)
    _signal: OutboxSignal | None = None
    _listener: OutboxListener | None = None
    _outbox_written: bool = False  # this transaction wrote to the outbox: ring after COMMIT

    # tenant -> (the subscriptions' generation it was read at, its filter); the entity store
    # sets it empty
    _change_filters: dict[str, tuple[int, ChangeFilter | None]]

    def _change_filter(self, tenant: str) -> ChangeFilter | None:
        """Which of the tenant's changes the outbox records (`change_filter`), None: none.
        Read in the writing transaction: a subscription committed before it counts."""
        if self.record_all_changes:
            return EVERYTHING
        (generation,) = self.db.execute(
            "SELECT value FROM generations WHERE name = 'subscriptions'"
        ).fetchone()
        cached = self._change_filters.get(tenant)
        if cached is not None and cached[0] == generation:
            return cached[1]
        docs = (
            orjson.loads(doc)
            for (doc,) in self.db.execute(
                "SELECT doc FROM subscriptions WHERE tenant = ?", (tenant,)
            )
        )
        wanted = change_filter(docs)
        if len(self._change_filters) >= 1024:  # many tenants: start over rather than grow
            self._change_filters.clear()
        self._change_filters[tenant] = (generation, wanted)
        return wanted

    def _append_changes(self, tenant: str, rows: list[tuple[str, Any, Any]], at: str) -> None:
        self._outbox_written = True
        self.db.executemany(
            "INSERT INTO changes (tenant, entity_id, before, after, at) VALUES (?, ?, ?, ?, ?)",
            [
                (
                    tenant,
                    entity_id,
                    None if before is None else orjson.dumps(before),
                    None if after is None else orjson.dumps(after),
                    at,
                )
                for entity_id, before, after in rows
            ],
        )

    async def listen(self, wake: Callable[[], None]) -> bool:
        """Wake on the datagram each commit to the outbox sends (see `outbox_signal`)."""
        if self._signal is None or self._listener is not None:
            return False
        listener = OutboxListener(self._signal.database)
        if not listener.start(wake):
            return False
        self._listener = listener
        return True

    def _bump(self) -> None:
        self.db.execute("UPDATE generations SET value = value + 1 WHERE name = 'subscriptions'")

    async def subscription_generation(self) -> int:
        row = self.db.execute(
            "SELECT value FROM generations WHERE name = 'subscriptions'"
        ).fetchone()
        return int(row[0]) if row else 0

    async def put_subscription(
        self, tenant: str, subscription_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        doc = orjson.dumps(document)
        if create:
            try:
                self.db.execute(
                    "INSERT INTO subscriptions (tenant, id, doc, created, origin) "
                    "VALUES (?, ?, ?, ?, coalesce("
                    "(SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0))",
                    (tenant, subscription_id, doc, document.get("createdAt", "")),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"subscription {subscription_id} already exists") from None
        else:
            self.db.execute(
                "UPDATE subscriptions SET doc = ? WHERE tenant = ? AND id = ?",
                (doc, tenant, subscription_id),
            )
        # after the row: a writer that reads the new generation reads the subscription too (a
        # change filter cached under the new generation must include it)
        self._bump()

    async def get_subscription(self, tenant: str, subscription_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT doc FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, subscription_id)
        ).fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    async def subscription_origins(self, tenant: str) -> dict[str, int]:
        # the writes are serialized: every change below the last number drawn is committed
        rows = self.db.execute("SELECT id, origin FROM subscriptions WHERE tenant = ?", (tenant,))
        return dict(rows.fetchall())

    async def list_subscriptions(
        self, tenant: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
        (total,) = self.db.execute(f"SELECT count(*) FROM subscriptions {where}", params).fetchone()
        rows = self.db.execute(
            f"SELECT doc FROM subscriptions {where} ORDER BY tenant, created, id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [dict(orjson.loads(doc)) for (doc,) in rows], total

    async def delete_subscription(self, tenant: str, subscription_id: str) -> bool:
        db = self.db
        async with transaction(db):
            cursor = db.execute(
                "DELETE FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, subscription_id)
            )
            db.execute(
                "DELETE FROM deliveries WHERE tenant = ? AND subscription_id = ?",
                (tenant, subscription_id),
            )
            self._bump()
        return cursor.rowcount > 0

    async def changes_after(self, consumer: str, limit: int) -> list[ChangeRecord]:
        row = self.db.execute("SELECT seq FROM cursors WHERE consumer = ?", (consumer,)).fetchone()
        start = 0 if row is None else row[0]
        return [
            ChangeRecord(
                seq,
                tenant,
                entity_id,
                None if before is None else orjson.loads(before),
                None if after is None else orjson.loads(after),
                at,
            )
            for seq, tenant, entity_id, before, after, at in self.db.execute(
                "SELECT seq, tenant, entity_id, before, after, at FROM changes "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (start, limit),
            )
        ]

    async def start_consumer(self, consumer: str) -> None:
        async with transaction(self.db):
            self.db.execute(
                "INSERT OR IGNORE INTO cursors (consumer, seq) "
                "VALUES (?, coalesce((SELECT min(seq) FROM cursors), 0))",
                (consumer,),
            )

    async def stop_consumer(self, consumer: str) -> None:
        async with transaction(self.db):
            self.db.execute("DELETE FROM cursors WHERE consumer = ?", (consumer,))
            self.db.execute(_FORGET)

    async def oldest_unmatched(self, consumer: str) -> str | None:
        row = self.db.execute(
            "SELECT at FROM changes WHERE seq > coalesce("
            "(SELECT seq FROM cursors WHERE consumer = ?), 0) ORDER BY seq LIMIT 1",
            (consumer,),
        ).fetchone()
        return None if row is None else str(row[0])

    async def commit_changes(
        self, consumer: str, last_seq: int, deliveries: Sequence[tuple[str, str, bytes]]
    ) -> list[Delivery]:
        # one notifier works on an SQLite file, so it takes the new deliveries at once
        # (leased), except those of a subscription with an older one not taken (waiting to
        # retry, or behind such a one): they go out after it, from `due_deliveries`
        db = self.db
        async with transaction(db):
            now = time.time()
            waiting = set()
            for queue in {(tenant, sub) for tenant, sub, _ in deliveries}:
                newest = db.execute(_NEWEST_LEASE, queue).fetchone()
                if newest is not None and newest[0] <= now:
                    waiting.add(queue)
            taken: list[Delivery] = []
            for tenant, sub, payload in deliveries:
                lease = 0.0 if (tenant, sub) in waiting else now + LEASE
                cursor = db.execute(
                    "INSERT INTO deliveries (tenant, subscription_id, payload, next_at, "
                    "lease_until) VALUES (?, ?, ?, ?, ?)",
                    (tenant, sub, payload, now, lease),
                )
                if lease and cursor.lastrowid is not None:
                    taken.append(Delivery(cursor.lastrowid, tenant, sub, payload, 0, now))
            db.execute(
                "INSERT INTO cursors (consumer, seq) VALUES (?, ?) "
                "ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq",
                (consumer, last_seq),
            )
            db.execute(_FORGET)
            self._count_sent(taken, 1)
        return taken

    async def enqueue(self, deliveries: Sequence[tuple[str, str, bytes]]) -> None:
        now = time.time()
        self.db.executemany(
            "INSERT INTO deliveries (tenant, subscription_id, payload, next_at) VALUES (?,?,?,?)",
            [(tenant, sub, payload, now) for tenant, sub, payload in deliveries],
        )
        if self._signal is not None:
            self._signal.ring()

    async def due_deliveries(self, now: float, limit: int) -> list[Delivery]:
        db = self.db
        async with transaction(db):
            if not self._leases_recovered:
                # one notifier runs on an SQLite file: leases left are those of a dead one
                db.execute("UPDATE deliveries SET lease_until = 0 WHERE lease_until > 0")
                self._leases_recovered = True
            taken: list[Delivery] = []
            # queue by queue, oldest head first: a subscription whose head is leased or waits
            # for a retry is one probe, however long its backlog (the first `limit` rows by id
            # used to be read and then dropped: a dead endpoint's backlog held every other
            # subscription back)
            for tenant, sub in _due_queues(db, now):
                for row in db.execute(_QUEUE, (tenant, sub, limit - len(taken))):
                    if row[3] > now or row[4] > now:  # waits for a retry, or leased
                        break
                    taken.append(Delivery(row[0], tenant, sub, row[1], row[2], row[3]))
                if len(taken) >= limit:
                    break
            db.executemany(
                "UPDATE deliveries SET lease_until = ? WHERE id = ?",
                [(now + LEASE, d.id) for d in taken],
            )
            self._count_sent(taken, 1)
        return taken

    async def release_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        db = self.db
        async with transaction(db):
            db.executemany(
                "UPDATE deliveries SET lease_until = 0 WHERE id = ?", [(d.id,) for d in deliveries]
            )
            self._count_sent(deliveries, -1)

    async def trim_deliveries(self, tenant: str, subscription_id: str, keep: int) -> int:
        db = self.db
        async with transaction(db):
            cursor = db.execute(
                _TRIM, (tenant, subscription_id, time.time(), tenant, subscription_id, keep)
            )
        return cursor.rowcount

    @property
    def lease(self) -> float:
        return LEASE

    async def renew_leases(self, deliveries: Sequence[Delivery]) -> None:
        db = self.db
        until = time.time() + LEASE
        async with transaction(db):
            db.executemany(
                "UPDATE deliveries SET lease_until = ? WHERE id = ? AND lease_until > 0",
                [(until, d.id) for d in deliveries],
            )

    def _count_sent(self, deliveries: Sequence[Delivery], sign: int) -> None:
        for tenant, sub, status in sending_status(deliveries, sign, now_iso()):
            self._merge_status(tenant, sub, status)

    async def complete_deliveries(
        self, deliveries: Sequence[Delivery], status: dict[str, Any]
    ) -> None:
        if not deliveries:
            return
        db = self.db
        async with transaction(db):
            db.executemany("DELETE FROM deliveries WHERE id = ?", [(d.id,) for d in deliveries])
            self._merge_status(deliveries[0].tenant, deliveries[0].subscription_id, status)

    def _merge_status(self, tenant: str, subscription_id: str, status: dict[str, Any]) -> None:
        table = "subscriptions"
        row = self.db.execute(
            "SELECT doc FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, subscription_id)
        ).fetchone()
        if row is None:  # a context source registration subscription's deliveries share it
            table = "csource_subscriptions"
            row = self.db.execute(
                "SELECT doc FROM csource_subscriptions WHERE tenant = ? AND id = ?",
                (tenant, subscription_id),
            ).fetchone()
        if row is None or not status:
            return
        document = orjson.loads(row[0])
        counters = document.setdefault("status", {})
        for key, value in status.items():
            if key in ("timesSent", "timesFailed"):
                counters[key] = counters.get(key, 0) + value
            else:
                counters[key] = value
        self.db.execute(
            f"UPDATE {table} SET doc = ? WHERE tenant = ? AND id = ?",
            (orjson.dumps(document), tenant, subscription_id),
        )

    async def finish_delivery(
        self, delivery: Delivery, *, ok: bool, retry_at: float | None, status: dict[str, Any]
    ) -> None:
        db = self.db
        async with transaction(db):
            if retry_at is None:
                db.execute("DELETE FROM deliveries WHERE id = ?", (delivery.id,))
            else:
                db.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, next_at = ?, lease_until = 0 "
                    "WHERE id = ?",
                    (retry_at, delivery.id),
                )
            self._merge_status(delivery.tenant, delivery.subscription_id, status)


def _due_queues(db: sqlite3.Connection, now: float) -> list[tuple[str, str]]:
    """The (tenant, subscription) queues whose oldest delivery is due and not leased, oldest
    head first: one index seek per queue with deliveries, not a read of every delivery."""
    heads: list[tuple[int, str, str]] = []
    key = ("", "")  # before the default tenant's first queue
    row = db.execute(_NEXT_QUEUE, key).fetchone()
    while True:
        if row is None:  # past the tenant's last queue
            row = db.execute(_NEXT_TENANT, key[:1]).fetchone()
            if row is None:
                break
        key = (row[0], row[1])
        if row[3] <= now and row[4] <= now:
            heads.append((row[2], row[0], row[1]))
        row = db.execute(_NEXT_QUEUE, key).fetchone()
    return [(tenant, sub) for _, tenant, sub in sorted(heads)]
