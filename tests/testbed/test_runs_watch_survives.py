"""The process's look at the run journal outlives any failure of a look. A PostgreSQL outage
ended it for good in every worker (a connection refused while the pool reconnected is no
`DalguError`), silently, until the server was restarted: runs were no longer followed (an
outside test of operations, round 6)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

from dalgu.testbed import runs


class _Journal:
    """A run journal whose first looks fail as a reconnecting driver's do."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.looks = 0

    async def active_runs(self) -> list[Any]:
        self.looks += 1
        if self.failures:
            raise self.failures.pop(0)
        return []

    async def add_run_events(self, events: Any) -> None:
        return None


async def test_the_look_at_the_run_journal_outlives_connection_errors(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runs, "REFRESH", 0.01)
    journal = _Journal([ConnectionRefusedError(111, "Connection refused")] * 3 + [OSError("x")])
    devices = SimpleNamespace(
        traffic=SimpleNamespace(observers=[]), commands=SimpleNamespace(observers=[])
    )
    service = runs.TestbedService(cast(Any, devices), cast(Any, None), cast(Any, journal))
    task = asyncio.create_task(service._watch())
    try:
        for _ in range(200):
            if journal.looks >= 8:
                break
            await asyncio.sleep(0.01)
        assert not task.done()
        assert journal.looks >= 8  # it went on looking, and the looks succeed again
    finally:
        task.cancel()
    said = [r.getMessage() for r in caplog.records if r.name == "dalgu.testbed.runs"]
    assert sum("Connection refused" in line for line in said) == 1  # once, not every look
    assert said[-1] == "conformance runs: the run journal answers again"
