"""Deleting a subscription while the notifier records its sent notifications: both finish,
neither is chosen as a deadlock victim (the DELETE answered 500 in the ETSI suite's
046_22_04 on PostgreSQL, and the subscription it should have removed kept notifying)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from dalgu.store.postgres import PostgresEntityStore
from tests.store.test_postgres_store import dsn, store, tenant  # one scratch database per module

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
