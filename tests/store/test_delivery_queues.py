"""Taking due notifications, queue by queue (one queue per subscription), on both stores: every
queue's due deliveries in order, oldest queue first; a queue whose head waits for a retry or is
leased yields nothing, however long it is, and holds back no other queue; the taker's budget
cuts a queue's run, never reorders it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dalgu.store.base import Delivery
from dalgu.store.postgres import PostgresEntityStore
from dalgu.store.sqlite import SqliteEntityStore

Store = SqliteEntityStore | PostgresEntityStore
NOW = 4e9  # later than any `enqueue` of the tests (they are due from the time they are queued)


@pytest.fixture
async def store(dsn: str | None, tmp_path: Path) -> AsyncIterator[Store]:
    s: Store = SqliteEntityStore(tmp_path / "q.db") if dsn is None else PostgresEntityStore(dsn)
    await s.open()
    yield s
    await s.close()


async def queue(store: Store, tenant: str, sub: str, n: int) -> None:
    await store.enqueue([(tenant, sub, b'{"n": %d}' % k) for k in range(n)])


def runs(taken: list[Delivery]) -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = {}
    for d in taken:
        out.setdefault((d.tenant, d.subscription_id), []).append(d.id)
    return out


async def test_every_due_queue_is_taken_in_order_across_tenants(store: Store) -> None:
    await queue(store, "t1", "urn:a", 5)
    await queue(store, "", "urn:c", 2)
    await queue(store, "t1", "urn:b", 3)
    await queue(store, "t2", "urn:d", 2)
    taken = await store.due_deliveries(NOW, 100)
    got = runs(taken)
    assert {k: len(v) for k, v in got.items()} == {
        ("t1", "urn:a"): 5,
        ("", "urn:c"): 2,
        ("t1", "urn:b"): 3,
        ("t2", "urn:d"): 2,
    }
    assert all(ids == sorted(ids) for ids in got.values())
    # leased now: taking again gives nothing until they are given back
    assert await store.due_deliveries(NOW, 100) == []
    await store.release_deliveries(taken)
    assert len(await store.due_deliveries(NOW, 100)) == 12


async def test_a_waiting_queue_yields_nothing_and_holds_back_no_other(store: Store) -> None:
    await queue(store, "", "urn:dead", 1200)
    await queue(store, "", "urn:live", 1)
    first = await store.due_deliveries(NOW, 2000)
    dead = [d for d in first if d.subscription_id == "urn:dead"]
    live = [d for d in first if d.subscription_id == "urn:live"]
    assert len(dead) == 1200 and len(live) == 1
    # the dead endpoint's first notification failed: the rest go back behind it
    await store.release_deliveries(dead[1:])
    await store.finish_delivery(dead[0], ok=False, retry_at=NOW + 60, status={})
    await store.complete_deliveries(live, {})
    await queue(store, "", "urn:live", 3)
    # a small budget still reaches the live queue: the dead one is one look, not 1,199 rows
    taken = await store.due_deliveries(NOW, 2)
    assert [d.subscription_id for d in taken] == ["urn:live", "urn:live"]
    assert [d.payload for d in taken] == [b'{"n": 0}', b'{"n": 1}']
    # the budget cut the live queue's run; its third comes next, still nothing of the dead one
    rest = await store.due_deliveries(NOW, 10)
    assert rest == []  # its older deliveries are leased: nothing newer goes out before them
    await store.complete_deliveries(taken, {})
    rest = await store.due_deliveries(NOW, 10)
    assert [(d.subscription_id, d.payload) for d in rest] == [("urn:live", b'{"n": 2}')]
    # once the retry is due, the dead queue goes out from its head, in order
    retry = await store.due_deliveries(NOW + 61, 5)
    assert [d.id for d in retry] == [d.id for d in dead[:5]]


async def test_the_oldest_queue_goes_first_when_the_budget_is_short(store: Store) -> None:
    await queue(store, "t9", "urn:old", 3)
    await queue(store, "", "urn:new", 3)
    taken = await store.due_deliveries(NOW, 4)
    assert [d.subscription_id for d in taken] == ["urn:old"] * 3 + ["urn:new"]


async def test_abandoning_drops_only_what_waited_untried(store: Store) -> None:
    await queue(store, "", "urn:gone", 6)
    await queue(store, "", "urn:other", 2)
    taken = await store.due_deliveries(NOW, 100)
    gone = [d for d in taken if d.subscription_id == "urn:gone"]
    other = [d for d in taken if d.subscription_id == "urn:other"]
    await store.release_deliveries([*gone[3:], *other])  # never tried
    await store.finish_delivery(gone[0], ok=False, retry_at=NOW + 60, status={})
    await store.finish_delivery(gone[1], ok=False, retry_at=None, status={})  # abandoned
    # gone[2] is still held by its sender
    assert await store.abandon_deliveries("", "urn:gone") == 3
    await store.release_deliveries([gone[2]])
    left = await store.due_deliveries(NOW + 61, 100)
    assert [(d.subscription_id, d.id) for d in left] == [
        ("urn:gone", gone[0].id),  # waits for its retry: kept
        ("urn:gone", gone[2].id),  # was being sent: kept
        *[("urn:other", d.id) for d in other],  # another subscription's: kept
    ]


async def test_a_renewed_lease_outlives_the_first_and_a_given_back_delivery_is_not_renewed(
    store: Store,
) -> None:
    await queue(store, "", "urn:slow", 2)
    await queue(store, "", "urn:back", 1)
    taken = await store.due_deliveries(time.time(), 10)
    slow = [d for d in taken if d.subscription_id == "urn:slow"]
    back = [d for d in taken if d.subscription_id == "urn:back"]
    assert len(slow) == 2 and len(back) == 1
    first_lease_over = time.time() + store.lease + 0.5
    await store.release_deliveries(back)  # given back: no one's, due again at once
    await asyncio.sleep(0.6)  # the renewal's "from now" is later than the take's
    await store.renew_leases(taken)
    again = await store.due_deliveries(first_lease_over, 10)
    assert [d.id for d in again] == [back[0].id]  # the slow queue is still held
    await store.complete_deliveries(again, {})
    # once the renewed lease is over too, the two are due again (their sender died)
    later = await store.due_deliveries(time.time() + store.lease + 1, 10)
    assert [d.id for d in later] == [d.id for d in slow]


async def test_a_trim_drops_the_oldest_untried_and_keeps_the_newest(store: Store) -> None:
    await queue(store, "", "urn:behind", 20)
    await queue(store, "", "urn:other", 3)
    taken = await store.due_deliveries(NOW, 3)  # the first three of the oldest queue: leased
    assert [d.subscription_id for d in taken] == ["urn:behind"] * 3
    assert await store.trim_deliveries("", "urn:behind", 5) == 12
    assert await store.trim_deliveries("", "urn:behind", 5) == 0  # nothing more past the cut
    assert await store.trim_deliveries("", "urn:other", 5) == 0  # fewer than kept wait there
    await store.complete_deliveries(taken, {})
    due = await store.due_deliveries(NOW, 100)
    kept = [d.payload for d in due if d.subscription_id == "urn:behind"]
    assert kept == [b'{"n": %d}' % k for k in range(15, 20)]  # the newest five, in order
    assert len(runs(due)[("", "urn:other")]) == 3
