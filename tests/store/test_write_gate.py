"""`WriteGate`: batches of one process that share an entity run one after another, in the
order they arrived; others run side by side."""

from __future__ import annotations

import asyncio

import pytest

from dalgu.store.postgres.gate import WriteGate

pytestmark = pytest.mark.asyncio


async def test_overlapping_batches_run_in_arrival_order_and_others_alongside() -> None:
    gate = WriteGate()
    log: list[str] = []
    first_in = asyncio.Event()
    release_first = asyncio.Event()

    async def batch(name: str, tenant: str, ids: list[str], hold: asyncio.Event | None) -> None:
        async with gate.hold(tenant, ids):
            log.append(f"{name} in")
            if hold is not None:
                first_in.set()
                await hold.wait()
            log.append(f"{name} out")

    first = asyncio.ensure_future(batch("a", "t", ["1", "2"], release_first))
    await first_in.wait()
    overlapping = asyncio.ensure_future(batch("b", "t", ["2", "3"], None))
    after_it = asyncio.ensure_future(batch("c", "t", ["3"], None))  # waits for b, not a
    disjoint = asyncio.ensure_future(batch("d", "t", ["4"], None))
    other_tenant = asyncio.ensure_future(batch("e", "u", ["1"], None))
    await asyncio.gather(disjoint, other_tenant)
    assert log == ["a in", "d in", "d out", "e in", "e out"]
    release_first.set()
    await asyncio.gather(first, overlapping, after_it)
    assert log[5:] == ["a out", "b in", "b out", "c in", "c out"]
    assert gate.queued == 0


async def test_a_cancelled_or_failed_batch_lets_the_next_one_run() -> None:
    gate = WriteGate()
    holding = asyncio.Event()
    never = asyncio.Event()

    async def stuck() -> None:
        async with gate.hold("t", ["1"]):
            holding.set()
            await never.wait()

    async def failing() -> None:
        async with gate.hold("t", ["1"]):
            raise RuntimeError("the batch failed")

    task = asyncio.ensure_future(stuck())
    await holding.wait()
    waiting = asyncio.ensure_future(failing())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    task.cancel()
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(waiting, 1)
    async with gate.hold("t", ["1"]):
        pass
    assert gate.queued == 0
