"""The change outbox on PostgreSQL: each entity's changes in order across server processes, a
writer that has appended but not yet committed holds up no other commit and is not stepped
over by the reader, and an older database's undelivered changes keep their place through the
upgrade."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from dalgu.broker.mutations import create, replace
from dalgu.store.postgres import PostgresEntityStore, schema
from tests.store.test_postgres_store import dsn, scratch_database, store, tenant
from tests.store.test_sqlite_store import thing

__all__ = ["dsn", "store", "tenant"]

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio(loop_scope="session")]

N = "https://example.org/n"


@pytest_asyncio.fixture(loop_scope="session")
async def recording(store: PostgresEntityStore) -> AsyncIterator[PostgresEntityStore]:
    store.record_all_changes = True
    yield store
    store.record_all_changes = False


async def read_all(store: PostgresEntityStore, consumer: str, tenant: str) -> list[Any]:
    seen = []
    while changes := await store.changes_after(consumer, 7):
        seen += [c for c in changes if c.tenant == tenant]
        await store.commit_changes(consumer, changes[-1].seq, [])
    return seen


def value(entity: Any) -> Any:
    return None if entity is None else entity[N][0]["value"]


async def test_each_entitys_changes_come_in_the_order_they_were_made_across_processes(
    recording: PostgresEntityStore, dsn: str, tenant: str
) -> None:
    """Two server processes (two stores, two pools) change the same ten entities at once; a
    consumer reads each entity's changes as a chain: each one's `before` is the last one's
    `after`, so no notification of a newer state goes out before an older one."""
    other = PostgresEntityStore(dsn, pool_size=4)
    other.record_all_changes = True
    await other.open()
    consumer = f"chain-{tenant}"
    await read_all(recording, consumer, tenant)  # the cursor starts after what came before
    ids = [f"urn:ngsi-ld:Thing:{n}" for n in range(10)]
    await recording.mutate(tenant, [(i, create(thing(n))) for n, i in enumerate(ids)])

    async def writer(s: PostgresEntityStore, w: int) -> None:
        for k in range(30):
            n = (w * 1000 + k) * 10
            batch = [(i, replace({**thing(n + j), "id": i})) for j, i in enumerate(ids[k % 3 :])]
            await s.mutate(tenant, batch)

    try:
        await asyncio.gather(*(writer(s, w) for w, s in enumerate([recording, other] * 2)))
    finally:
        await other.close()
    seen = await read_all(recording, consumer, tenant)
    by_entity: dict[str, list[Any]] = {}
    for change in seen:
        by_entity.setdefault(change.entity_id, []).append(change)
    assert sorted(by_entity) == sorted(ids)
    for entity_id, changes in by_entity.items():
        assert changes[0].before is None  # its creation
        for earlier, later in itertools.pairwise(changes):
            assert value(later.before) == value(earlier.after), entity_id
    # 4 writers x 30 batches, each over 10, 9 or 8 of the entities, and the creations
    assert len(seen) == 10 + 4 * 10 * (10 + 9 + 8)


@pytest.mark.parametrize("ends", ["commits", "rolls back"])
async def test_a_writer_that_has_not_committed_holds_up_no_other_commit(
    recording: PostgresEntityStore, dsn: str, tenant: str, ends: str
) -> None:
    """A transaction that wrote its changes and then waits (a busy worker's turn, a slow
    client) does not stop other writes from committing, and the reader does not step over
    its changes meanwhile: it reads the later ones when the slow one has ended."""
    consumer = f"slow-{tenant}"
    await read_all(recording, consumer, tenant)
    slow = await asyncpg.connect(dsn)
    try:
        transaction = slow.transaction()
        await transaction.start()
        await recording.append_changes(
            slow, tenant, [("urn:ngsi-ld:Thing:slow", None, thing(1))], "2026-12-05T00:00:00Z"
        )
        # an exclusive outbox lock held from here to the COMMIT made this wait for it
        await asyncio.wait_for(
            recording.mutate(tenant, [("urn:ngsi-ld:Thing:quick", create(thing(2)))]), 5
        )
        # the quick change is committed, but a change before it may still come
        assert await read_all(recording, consumer, tenant) == []
        await (transaction.commit() if ends == "commits" else transaction.rollback())
    finally:
        await slow.close()
    expected = ["urn:ngsi-ld:Thing:slow"] if ends == "commits" else []
    assert [c.entity_id for c in await read_all(recording, consumer, tenant)] == [
        *expected,
        "urn:ngsi-ld:Thing:quick",
    ]


@pytest_asyncio.fixture(loop_scope="session")
async def scratch() -> AsyncIterator[str]:
    async with scratch_database() as scratch:
        yield scratch


async def test_an_older_outbox_keeps_its_undelivered_changes_and_cursor_through_the_upgrade(
    scratch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ordered = next(i for i, m in enumerate(schema.MIGRATIONS) if "change_tickets" in m)
    with monkeypatch.context() as patched:
        patched.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:ordered])
        old = PostgresEntityStore(scratch, pool_size=2)
        await old.open()
        await old.close()
    # the outbox as the older code left it: a consumer has read up to the second of four
    conn = await asyncpg.connect(scratch)
    try:
        for n in range(4):
            await conn.execute(
                "INSERT INTO changes (tenant, entity_id, before, after, at) "
                "VALUES ('', $1, NULL, $2, '2026-12-01T00:00:00Z')",
                f"urn:ngsi-ld:Thing:{n}",
                b'{"%s": [{"type": "Property", "value": %d}]}' % (N.encode(), n),
            )
        await conn.execute("INSERT INTO cursors (consumer, seq) VALUES ('notifier', 2)")
    finally:
        await conn.close()

    store = PostgresEntityStore(scratch, pool_size=2)
    store.record_all_changes = True
    await store.open()
    try:
        await store.mutate("", [("urn:ngsi-ld:Thing:9", create(thing(9)))])
        seen = await read_all(store, "notifier", "")
        assert [(c.entity_id, value(c.after)) for c in seen] == [
            ("urn:ngsi-ld:Thing:2", 2),
            ("urn:ngsi-ld:Thing:3", 3),
            ("urn:ngsi-ld:Thing:9", 9),
        ]
        assert [c.seq for c in seen][:2] == [3, 4] and seen[2].seq > 4
        async with store.pool.acquire() as conn:  # what every consumer read is forgotten
            assert await conn.fetchval("SELECT count(*) FROM changes") == 0
    finally:
        await store.close()


@pytest.mark.parametrize("size", [1, 40])  # asked in the append itself / asked first
async def test_changes_enter_the_outbox_only_while_the_tenant_has_a_subscription(
    store: PostgresEntityStore, tenant: str, size: int
) -> None:
    async def outbox_rows() -> int:
        async with store.pool.acquire() as conn:
            count = await conn.fetchval("SELECT count(*) FROM changes WHERE tenant = $1", tenant)
            return int(count)

    await store.mutate(tenant, [(f"urn:ngsi-ld:Thing:{n}", create(thing(n))) for n in range(size)])
    assert await outbox_rows() == 0
    subscription = {"id": "urn:ngsi-ld:Subscription:s", "type": "Subscription"}
    await store.put_subscription(tenant, subscription["id"], subscription, create=True)
    n = 1000
    await store.mutate(
        tenant, [(f"urn:ngsi-ld:Thing:{n + k}", create(thing(n + k))) for k in range(size)]
    )
    assert await outbox_rows() == size


async def test_a_transaction_left_idle_is_ended_by_the_server(store: PostgresEntityStore) -> None:
    """A hung process cannot hold entities' rows and the outbox's horizon for ever."""
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("SHOW idle_in_transaction_session_timeout") == "1min"
