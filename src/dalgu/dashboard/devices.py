"""The devices the gateway knows in a tenant (FIWARE IoT Agent provisioning), as the dashboard
lists them: the entity each one writes, how many of its messages this worker stored and
refused since it started, and when its entity last changed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

from dalgu.broker.service import EntityService
from dalgu.dashboard.overview import local_time
from dalgu.devices.service import DeviceService
from dalgu.store.base import EntityQuery

#: devices listed at most
LISTED: Final = 50


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device_id: str
    entity_id: str | None
    entity_type: str | None
    transport: str | None
    stored: int
    refused: int
    last_update: str  # Daegu's time, "" when its entity does not exist


@dataclass(frozen=True, slots=True)
class Devices:
    rows: tuple[DeviceRow, ...]
    total: int


class DeviceOverview:
    def __init__(self, devices: DeviceService, entities: EntityService) -> None:
        self.devices = devices
        self.entities = entities

    async def listed(self, tenant: str) -> Devices:
        records, total = await self.devices.registry.devices(tenant, None, LISTED, 0)
        bindings = [await self.devices.binding_of(r) for r in records]
        ids = tuple(dict.fromkeys(b.entity_id for b in bindings if b is not None))
        modified: dict[str, str] = {}
        if ids:
            found = await self.entities.query(tenant, EntityQuery(ids=ids, limit=len(ids)))
            modified = {e["id"]: str(e.get("modifiedAt", "")) for e in found.entities}
        outcomes: Counter[tuple[str, str, bool]] = Counter()
        for (apikey, device, outcome), count in list(self.devices.traffic.counts.items()):
            outcomes[(apikey, device, outcome == "stored")] += count
        rows = []
        for record, binding in zip(records, bindings, strict=True):
            transport = record.doc.get("transport") or record.doc.get("protocol")
            stamp = modified.get(binding.entity_id, "") if binding is not None else ""
            rows.append(
                DeviceRow(
                    record.key,
                    binding.entity_id if binding is not None else None,
                    binding.entity_type if binding is not None else None,
                    transport if isinstance(transport, str) else None,
                    outcomes[(record.apikey, record.key, True)],
                    outcomes[(record.apikey, record.key, False)],
                    local_time(stamp) if stamp else "",
                )
            )
        return Devices(tuple(rows), total)
