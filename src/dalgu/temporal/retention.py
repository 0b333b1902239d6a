"""The retention policy of the temporal history: forget instances older than a configured
duration, on a schedule (`DALGU_TEMPORAL_RETENTION`, `DALGU_TEMPORAL_RETENTION_INTERVAL`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from dalgu.background import Periodic
from dalgu.query.duration import Duration, add_months
from dalgu.temporal.service import TemporalService

log = logging.getLogger("dalgu.temporal")


def cutoff(keep: Duration, now: datetime) -> datetime:
    """The oldest time a history that keeps `keep` still holds at `now`."""
    return add_months(now, -keep.months) - timedelta(seconds=keep.seconds)


class RetentionPolicy(Periodic):
    """Runs `TemporalService.forget_before` every `interval` seconds, first at start."""

    name = "dalgu-temporal-retention"

    def __init__(self, service: TemporalService, keep: Duration, interval: float) -> None:
        super().__init__(interval, at_start=True)
        self.service = service
        self.keep = keep

    async def sweep(self) -> int:
        gone = await self.service.forget_before(cutoff(self.keep, datetime.now(UTC)))
        if gone:
            log.info("retention: forgot %d temporal instances", gone)
        return gone

    async def run_once(self) -> None:
        await self.sweep()
