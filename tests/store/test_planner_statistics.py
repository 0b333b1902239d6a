"""`PlannerStatistics`: bulk writes start an `ANALYZE` in the background, at most one per
`MIN_INTERVAL`; writes that reach the threshold sooner are analysed when it ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from dalgu.store.postgres import statistics
from dalgu.store.postgres.statistics import MIN_CHANGES, PlannerStatistics


class FakePool:
    """Records the `ANALYZE`s it is asked for, with the loop time of each."""

    def __init__(self) -> None:
        self.analysed: list[float] = []

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakePool]:
        yield self

    async def execute(self, sql: str) -> None:
        assert sql.startswith("ANALYZE ")
        self.analysed.append(asyncio.get_running_loop().time())

    async def fetchval(self, sql: str, *args: Any) -> int:
        return 1000


async def test_writes_start_an_analysis_at_most_once_per_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(statistics, "MIN_INTERVAL", 0.3)
    pool = FakePool()
    planner = PlannerStatistics(pool)
    await planner.start()
    began = asyncio.get_running_loop().time()
    planner.wrote(MIN_CHANGES - 1)
    await asyncio.sleep(0.02)
    assert pool.analysed == []  # below the threshold
    planner.wrote(1)
    await asyncio.sleep(0.02)
    assert len(pool.analysed) == 1  # the first one at once
    for _ in range(5):  # the threshold again and again, within the interval
        planner.wrote(MIN_CHANGES)
        await asyncio.sleep(0.02)
    assert len(pool.analysed) == 1
    await asyncio.sleep(0.4)
    assert len(pool.analysed) == 2  # one more, when the interval ended
    assert pool.analysed[1] - pool.analysed[0] >= 0.3
    assert pool.analysed[0] - began < 0.1
    await asyncio.sleep(0.4)
    assert len(pool.analysed) == 2  # nothing written since
    await planner.stop()


async def test_stop_cancels_a_waiting_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statistics, "MIN_INTERVAL", 10.0)
    pool = FakePool()
    planner = PlannerStatistics(pool)
    await planner.start()
    planner.wrote(MIN_CHANGES)
    await asyncio.sleep(0.02)
    planner.wrote(MIN_CHANGES)
    await asyncio.sleep(0.02)
    await planner.stop()
    assert len(pool.analysed) == 1
