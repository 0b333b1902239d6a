"""Pending notifications on PostgreSQL: deleting a subscription while the notifier records
its sent notifications (both finish, neither is a deadlock victim: the DELETE answered 500 in
the ETSI suite's 046_22_04 and the subscription kept notifying), and the leases of a notifier
that died (its deliveries go out when the next starts, not when the leases run out)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dalgu.broker.mutations import create
from dalgu.store.postgres import PostgresEntityStore
from tests.store.test_postgres_store import dsn, store, tenant  # one scratch database per module
from tests.store.test_sqlite_store import thing

__all__ = ["dsn", "store", "tenant"]

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio(loop_scope="session")]


def subscription(subscription_id: str) -> dict[str, object]:
    return {
        "id": subscription_id,
        "type": "Subscription",
        "entities": [{"type": "https://example.org/Building"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }


@pytest.mark.parametrize("outcome", ["sent", "given back"])
async def test_delete_while_deliveries_are_recorded_does_not_deadlock(
    store: PostgresEntityStore, dsn: str, tenant: str, outcome: str
) -> None:
    sub_id = "urn:ngsi-ld:Subscription:locks"
    await store.put_subscription(tenant, sub_id, subscription(sub_id), create=True)
    await store.enqueue([(tenant, sub_id, b'{"n": %d}' % n) for n in range(3)])
    taken = [d for d in await store.due_deliveries(1e12, 100) if d.tenant == tenant]
    assert len(taken) == 3
    # another session holds the delivery rows, so that the two below meet in the order that
    # deadlocked: the notifier waits for the rows, the deletion starts meanwhile
    side = await asyncpg.connect(dsn)
    try:
        transaction = side.transaction()
        await transaction.start()
        await side.execute(
            "SELECT id FROM deliveries WHERE id = ANY($1::bigint[]) FOR UPDATE",
            [d.id for d in taken],
        )
        if outcome == "sent":
            recorded = store.complete_deliveries(taken, {"timesSent": 3})
        else:  # a failed send gives the rest of its batch back
            recorded = store.release_deliveries(taken)
        sent = asyncio.create_task(recorded)
        await asyncio.sleep(0.3)
        deleted = asyncio.create_task(store.delete_subscription(tenant, sub_id))
        await asyncio.sleep(0.3)
        await transaction.rollback()
        results = await asyncio.wait_for(
            asyncio.gather(sent, deleted, return_exceptions=True), timeout=10
        )
    finally:
        await side.close()
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert results[1] is True
    assert await store.get_subscription(tenant, sub_id) is None
    assert [d for d in await store.due_deliveries(1e12, 100) if d.tenant == tenant] == []


async def notifier_store(dsn: str) -> PostgresEntityStore:
    store = PostgresEntityStore(dsn, pool_size=2)
    await store.open()
    assert await store.listen(lambda: None) is True
    return store


async def leased(store: PostgresEntityStore, tenant: str) -> list[int]:
    return sorted(d.id for d in await store.due_deliveries(time.time(), 100) if d.tenant == tenant)


@pytest.fixture
async def pending(store: PostgresEntityStore, tenant: str) -> AsyncIterator[None]:
    """Two deliveries waiting for their first send."""
    sub_id = "urn:ngsi-ld:Subscription:leases"
    await store.put_subscription(tenant, sub_id, subscription(sub_id), create=True)
    await store.enqueue([(tenant, sub_id, b"{}"), (tenant, sub_id, b"{}")])
    yield
    await store.delete_subscription(tenant, sub_id)


async def test_leases_of_a_notifier_that_died_are_taken_over_at_once(
    dsn: str, tenant: str, pending: None
) -> None:
    first = await notifier_store(dsn)
    taken = await leased(first, tenant)
    assert len(taken) == 2
    # killed: its connections drop, nothing is released
    pid = first._listener.get_server_pid()
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        for _ in range(100):
            if not await admin.fetchval("SELECT 1 FROM pg_stat_activity WHERE pid = $1", pid):
                break
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
    first._listener = None
    await first.close()
    second = await notifier_store(dsn)
    try:
        assert await leased(second, tenant) == taken  # not 30 s later
    finally:
        await second.close()


async def test_leases_of_a_live_notifier_stay_its_own(dsn: str, tenant: str, pending: None) -> None:
    first = await notifier_store(dsn)
    second = await notifier_store(dsn)
    try:
        assert len(await leased(first, tenant)) == 2
        assert await leased(second, tenant) == []
    finally:
        await first.close()
        await second.close()


async def test_a_reader_of_the_outbox_misses_no_change_of_concurrent_writers(
    store: PostgresEntityStore, tenant: str
) -> None:
    """Changes enter the outbox in commit order: a consumer that moves its cursor past what it
    read while 8 writers commit never steps over a change that commits later with a lower seq."""
    consumer = f"reader-{tenant}"
    store.record_all_changes = True

    async def writer(w: int) -> None:
        for k in range(25):
            n = w * 100 + k
            await store.mutate(tenant, [(f"urn:ngsi-ld:Thing:{n}", create(thing(n)))])

    seen: list[str] = []
    writers = asyncio.gather(*(writer(w) for w in range(8)))
    try:
        while True:
            done = writers.done()
            changes = await store.changes_after(consumer, 50)
            if changes:
                seen += [c.entity_id for c in changes if c.tenant == tenant]
                await store.commit_changes(consumer, changes[-1].seq, [])
            elif done:
                break
    finally:
        await writers
        store.record_all_changes = False
    expected = {f"urn:ngsi-ld:Thing:{w * 100 + k}" for w in range(8) for k in range(25)}
    assert sorted(seen) == sorted(expected)  # each once, none skipped
