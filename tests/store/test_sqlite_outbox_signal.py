"""The notifier of an SQLite file is woken by each commit that writes to the outbox, from any
process, instead of looking at the outbox every few milliseconds (Linux only: elsewhere it
polls, and these tests are skipped)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dalgu.broker.mutations import create
from dalgu.store.sqlite import SqliteEntityStore
from dalgu.store.sqlite.outbox_signal import AVAILABLE
from tests.store.test_sqlite_store import thing

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="abstract Unix sockets are Linux's")


class Wakes:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.event.set()

    async def came(self, within: float) -> bool:
        try:
            await asyncio.wait_for(self.event.wait(), within)
        except TimeoutError:
            return False
        self.event.clear()
        return True


async def test_a_commit_to_the_outbox_wakes_the_listener_of_that_file(tmp_path: Path) -> None:
    path = tmp_path / "dalgu.db"
    notifier_side, api_side = SqliteEntityStore(path), SqliteEntityStore(path)
    other_file = SqliteEntityStore(tmp_path / "other.db")
    for store in (notifier_side, api_side, other_file):
        await store.open()
    wakes = Wakes()
    try:
        assert await notifier_side.listen(wakes) is True
        # no subscription: nothing goes to the outbox, nothing rings
        await api_side.mutate("", [("urn:ngsi-ld:Thing:1", create(thing(1)))])
        assert not await wakes.came(0.3)
        sub = {"id": "urn:ngsi-ld:Subscription:1", "type": "Subscription"}
        await api_side.put_subscription("", sub["id"], sub, create=True)
        await api_side.mutate("", [("urn:ngsi-ld:Thing:2", create(thing(2)))])
        assert await wakes.came(2.0)
        # another database's outbox is another's business
        await other_file.put_subscription("", sub["id"], sub, create=True)
        await other_file.mutate("", [("urn:ngsi-ld:Thing:3", create(thing(3)))])
        assert not await wakes.came(0.3)
        # a delivery queued by the API (a context source notification) rings too
        await api_side.enqueue([("", sub["id"], b"{}")])
        assert await wakes.came(2.0)
    finally:
        for store in (notifier_side, api_side, other_file):
            await store.close()


async def test_one_listener_per_file_the_next_polls(tmp_path: Path) -> None:
    path = tmp_path / "dalgu.db"
    first, second = SqliteEntityStore(path), SqliteEntityStore(path)
    await first.open()
    await second.open()
    try:
        assert await first.listen(Wakes()) is True
        assert await second.listen(Wakes()) is False
        await first.close()  # its name is free again
        assert await second.listen(Wakes()) is True
    finally:
        await second.close()
        await first.close()
