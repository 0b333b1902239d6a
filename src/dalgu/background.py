"""Background tasks of the long-running parts (notifier, retention, heap trim, gateways)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` (if any) and wait until it has ended; its cancellation is not raised."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Periodic:
    """Calls `run_once` every `interval` seconds while started (the first time at once when
    `at_start`, else after one interval). A failed run (a store outage, a lock timeout) is
    logged and the next one tries again; `stop` cancels and waits. An interval of 0 never
    starts."""

    name = "dalgu-periodic"

    def __init__(self, interval: float, *, at_start: bool = False) -> None:
        self.interval = interval
        self.at_start = at_start
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        if not self.at_start:
            await asyncio.sleep(self.interval)
        while True:
            try:
                await self.run_once()
            except Exception:
                logging.getLogger(type(self).__module__).exception("%s failed", self.name)
            await asyncio.sleep(self.interval)
