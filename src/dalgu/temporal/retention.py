"""The retention policy of the temporal history: forget instances older than a configured
duration, on a schedule (`DALGU_TEMPORAL_RETENTION`, `DALGU_TEMPORAL_RETENTION_INTERVAL`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from dalgu.background import cancel_and_wait
from dalgu.query.duration import Duration, add_months
from dalgu.temporal.service import TemporalService

log = logging.getLogger("dalgu.temporal")


def cutoff(keep: Duration, now: datetime) -> datetime:
    """The oldest time a history that keeps `keep` still holds at `now`."""
    return add_months(now, -keep.months) - timedelta(seconds=keep.seconds)


class RetentionPolicy:
    """Runs `TemporalService.forget_before` every `interval` seconds, first at start."""

    def __init__(self, service: TemporalService, keep: Duration, interval: float) -> None:
        self.service = service
        self.keep = keep
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dalgu-temporal-retention")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def sweep(self) -> int:
        gone = await self.service.forget_before(cutoff(self.keep, datetime.now(UTC)))
        if gone:
            log.info("retention: forgot %d temporal instances", gone)
        return gone

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # a failed sweep (store down, lock timeout) is retried next time
                log.exception("retention sweep failed")
            await asyncio.sleep(self.interval)
