"""The Wi-Fi sweep in the background: every `interval` seconds, each tenant that has access
points or zones is swept (`WifiService.sweep`), so zone statuses and silent access points are
written even when nobody asks."""

from __future__ import annotations

import asyncio
import logging

from dalgu.background import cancel_and_wait
from dalgu.broker.service import EntityService
from dalgu.wifi.service import WifiService

log = logging.getLogger(__name__)


class WifiMonitor:
    def __init__(self, service: WifiService, entities: EntityService, interval: float) -> None:
        self.service = service
        self.entities = entities
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dalgu-wifi-monitor")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def sweep_all(self) -> int:
        """Sweep every tenant (two queries by type each where there is no Wi-Fi); how many
        entities were written."""
        written = 0
        for tenant in await self.entities.tenants():
            written += len((await self.service.sweep(tenant)).written)
        return written

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                written = await self.sweep_all()
            except Exception:  # a store outage, say: the next sweep tries again
                log.exception("wifi sweep failed")
                continue
            if written:
                log.info("wifi sweep: %d entities changed", written)
