"""`PointReads`: a read by id that finds a read free goes alone and at once; those that wait
are read together, per tenant, each caller answered with its own row (the PostgreSQL store's
tests run it against the real server)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from dalgu.errors import StoreUnavailable
from dalgu.store.postgres.point_reads import PointReads

pytestmark = pytest.mark.asyncio


class Reader:
    """Rows of (tenant, id); records each call; a read of id `hold` waits for `release`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail = False

    async def one(self, tenant: str, entity_id: str) -> tuple[Any, ...] | None:
        self.calls.append((tenant, [entity_id]))
        if entity_id == "hold":
            self.entered.set()
            await self.release.wait()
        return None if entity_id.startswith("missing") else (tenant, entity_id)

    async def many(self, tenant: str, ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        self.calls.append((tenant, list(ids)))
        if self.fail:
            raise StoreUnavailable("the database went away")
        return {i: (tenant, i) for i in ids if not i.startswith("missing")}


async def test_reads_that_wait_are_read_together_per_tenant() -> None:
    reader = Reader()
    reads = PointReads(reader.one, reader.many, running=1)
    held = asyncio.ensure_future(reads.read("t", "hold"))
    await reader.entered.wait()
    asked = [("t", "a"), ("u", "a"), ("t", "b"), ("t", "a"), ("t", "missing-1"), ("u", "c")]
    waiting = [asyncio.ensure_future(reads.read(t, i)) for t, i in asked]
    for _ in range(5):
        await asyncio.sleep(0)
    assert not any(w.done() for w in waiting) and reads.waiting == 6
    reader.release.set()
    assert await held == ("t", "hold")
    got = await asyncio.gather(*waiting)
    assert got == [("t", "a"), ("u", "a"), ("t", "b"), ("t", "a"), None, ("u", "c")]
    assert reader.calls == [("t", ["hold"]), ("t", ["a", "b", "missing-1"]), ("u", ["a", "c"])]
    assert reads.waiting == 0


async def test_a_read_that_finds_one_free_goes_alone_and_at_once() -> None:
    reader = Reader()
    reads = PointReads(reader.one, reader.many, running=2)
    held = asyncio.ensure_future(reads.read("t", "hold"))
    await reader.entered.wait()
    assert await asyncio.wait_for(reads.read("t", "x"), 1) == ("t", "x")
    reader.release.set()
    await held
    assert reader.calls == [("t", ["hold"]), ("t", ["x"])]


async def test_a_failed_shared_read_fails_its_callers_and_the_next_ones_read_again() -> None:
    reader = Reader()
    reads = PointReads(reader.one, reader.many, running=1)
    held = asyncio.ensure_future(reads.read("t", "hold"))
    await reader.entered.wait()
    reader.fail = True
    waiting = [asyncio.ensure_future(reads.read("t", i)) for i in "ab"]
    gone = asyncio.ensure_future(reads.read("t", "c"))
    await asyncio.sleep(0)
    gone.cancel()  # a client that went away: not read, not answered
    reader.release.set()
    await held
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results)
    assert reader.calls[1] == ("t", ["a", "b"])
    reader.fail = False
    assert await reads.read("t", "d") == ("t", "d")
