"""The SQLite store's group commit: `mutate` calls that arrive together share one transaction,
and each is still answered, and undone, on its own."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from dalgu.broker.mutations import create
from dalgu.errors import AlreadyExists
from dalgu.store.base import Change, Entity
from dalgu.store.sqlite import SqliteEntityStore

T0 = "2026-11-25T04:00:00.000Z"


def thing(n: int) -> Entity:
    return {
        "id": f"urn:ngsi-ld:Thing:{n}",
        "type": ["https://example.org/Thing"],
        "createdAt": T0,
        "modifiedAt": T0,
        "https://example.org/n": [{"type": "Property", "value": n}],
    }


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEntityStore]:
    s = SqliteEntityStore(tmp_path / "dalgu.db")
    await s.open()
    yield s
    await s.close()


def commits(store: SqliteEntityStore) -> list[int]:
    """Counts COMMIT statements run on the store's connection from now on."""
    seen: list[int] = []
    store.db.set_trace_callback(lambda sql: seen.append(1) if sql == "COMMIT" else None)
    return seen


async def test_concurrent_writes_share_one_commit(store: SqliteEntityStore) -> None:
    counted = commits(store)
    outcomes = await asyncio.gather(
        *(store.mutate("", [(thing(n)["id"], create(thing(n)))]) for n in range(20))
    )
    assert len(counted) == 1
    assert all(isinstance(o, Change) for (o,) in outcomes)
    assert len(await store.get_many("", [thing(n)["id"] for n in range(20)])) == 20


async def test_a_failing_call_undoes_only_its_own_items(store: SqliteEntityStore) -> None:
    def broken(current: Entity | None) -> Entity:
        raise ValueError("a bug, not a DalguError")

    first, second, third = await asyncio.gather(
        store.mutate("", [(thing(1)["id"], create(thing(1)))]),
        store.mutate("", [(thing(2)["id"], create(thing(2))), ("urn:x", broken)]),
        store.mutate("", [(thing(1)["id"], create(thing(1))), (thing(3)["id"], create(thing(3)))]),
        return_exceptions=True,
    )
    assert isinstance(first, list) and isinstance(first[0], Change)
    assert isinstance(second, ValueError)
    assert isinstance(third, list)
    assert isinstance(third[0], AlreadyExists) and isinstance(third[1], Change)
    found = await store.get_many("", [thing(n)["id"] for n in (1, 2, 3)])
    assert sorted(found) == [thing(1)["id"], thing(3)["id"]]


async def test_a_write_is_answered_only_after_its_commit(store: SqliteEntityStore) -> None:
    pending = asyncio.ensure_future(store.mutate("", [(thing(1)["id"], create(thing(1)))]))
    await asyncio.sleep(0)
    assert not pending.done()
    other = sqlite3.connect(store.path)  # another reader sees nothing before the answer
    assert other.execute("SELECT count(*) FROM entities").fetchone() == (0,)
    await pending
    assert other.execute("SELECT count(*) FROM entities").fetchone() == (1,)
    other.close()


async def test_a_cancelled_write_is_not_applied(store: SqliteEntityStore) -> None:
    cancelled = asyncio.ensure_future(store.mutate("", [(thing(1)["id"], create(thing(1)))]))
    kept = asyncio.ensure_future(store.mutate("", [(thing(2)["id"], create(thing(2)))]))
    await asyncio.sleep(0)
    cancelled.cancel()
    await kept
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert sorted(await store.get_many("", [thing(1)["id"], thing(2)["id"]])) == [thing(2)["id"]]


async def test_writes_queued_at_close_are_committed(tmp_path: Path) -> None:
    store = SqliteEntityStore(tmp_path / "dalgu.db")
    await store.open()
    pending = asyncio.ensure_future(store.mutate("", [(thing(1)["id"], create(thing(1)))]))
    await asyncio.sleep(0)  # queued, its commit not yet run
    await store.close()
    assert (await pending)[0] == Change(thing(1)["id"], None, thing(1))
    await store.open()
    assert await store.get("", thing(1)["id"]) == thing(1)
    await store.close()
