"""The Wi-Fi sweep in the background: every `interval` seconds, each tenant is swept
(`WifiService.sweep`), so zone statuses and silent access points are written even when nobody
asks."""

from __future__ import annotations

import logging

from dalgu.background import Periodic
from dalgu.broker.service import EntityService
from dalgu.wifi.service import WifiService

log = logging.getLogger(__name__)


class WifiMonitor(Periodic):
    name = "dalgu-wifi-monitor"

    def __init__(self, service: WifiService, entities: EntityService, interval: float) -> None:
        super().__init__(interval)
        self.service = service
        self.entities = entities

    async def sweep_all(self) -> int:
        """Sweep every tenant (two queries by type each where there is no Wi-Fi); how many
        entities were written."""
        written = 0
        for tenant in await self.entities.tenants():
            written += len((await self.service.sweep(tenant)).written)
        return written

    async def run_once(self) -> None:
        written = await self.sweep_all()
        if written:
            log.info("wifi sweep: %d entities changed", written)
