"""Wearable measures become vital-signs Observations of the patient the wearable is linked to.

The recorder listens in process to the entity service's committed changes (the same seam as
subscriptions): a change of an NGSI-LD entity whose attributes carry vital signs (heartRate,
oxygenSaturation, ... see `vitals.VITALS`) adds samples to down-sampling windows. Which
patient a wearable belongs to is known only on the FHIR side: a `Device` whose identifier is
(`urn:dalgu:ngsi-ld:<tenant>`, the entity id), or (`urn:dalgu:ngsi-ld`, the entity id) for
the default tenant, and whose `patient` is set. Only changes of that tenant's entity count: an
entity of the same id in another tenant is another wearable. The NGSI-LD entity itself
carries no patient link, so city services reading it see pseudonymous measures only.

Closed windows are written as the server (`SYSTEM`), audited like any write, with ids derived
from (wearable, code, window) so that writing a window twice keeps one Observation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson

from dalgu.background import cancel_and_wait
from dalgu.errors import DalguError
from dalgu.fhir.dates import date_range
from dalgu.fhir.model import StoredResource
from dalgu.fhir.search import parse_search
from dalgu.fhir.service import FhirService
from dalgu.fhir.vitals import Downsampler, VitalSign, Window, vital_of, window_observation
from dalgu.store.base import Change

log = logging.getLogger("dalgu.fhir.wearables")
NGSI_LD_SYSTEM = "urn:dalgu:ngsi-ld"  # the default tenant's; another's is this + ":<tenant>"
LINK_TTL = 30.0  # seconds the links read are trusted (this process's Device writes clear them)
_PAGE = 500


@dataclass(frozen=True, slots=True)
class Link:
    device: str  # FHIR Device id
    patient: str


def link_system(tenant: str = "") -> str:
    """The identifier system of a Device linking an NGSI-LD entity of `tenant`."""
    return f"{NGSI_LD_SYSTEM}:{tenant}" if tenant else NGSI_LD_SYSTEM


class WearableRecorder:
    def __init__(self, fhir: FhirService, window: float) -> None:
        self.fhir = fhir
        self.sampler = Downsampler(window)
        # by tenant: entity id -> link, and until when it is trusted (cleared by Device writes)
        self._links: dict[str, tuple[float, dict[str, Link]]] = {}
        self._ticker: asyncio.Task[None] | None = None
        fhir.listeners.append(self._fhir_written)

    def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        await cancel_and_wait(self._ticker)
        self._ticker = None
        await self._write(self.sampler.drain())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, self.sampler.seconds / 4))
            await self.flush(time.time())

    async def flush(self, now: float) -> int:
        """Write the windows that ended before `now`; how many Observations."""
        return await self._write(self.sampler.due(now))

    async def _fhir_written(self, stored: list[StoredResource]) -> None:
        if any(s.type == "Device" for s in stored):
            self._links = {}

    async def link(self, entity_id: str, tenant: str = "") -> Link | None:
        """The patient-linked Device of a wearable entity of `tenant`, if any."""
        return (await self._current_links(tenant)).get(entity_id)

    async def _current_links(self, tenant: str) -> dict[str, Link]:
        known = self._links.get(tenant)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        links = await self._linked_wearables(tenant)
        self._links[tenant] = (time.monotonic() + LINK_TTL, links)
        return links

    async def _linked_wearables(self, tenant: str) -> dict[str, Link]:
        """Every wearable entity of `tenant` a Device with a patient names, read in pages of
        the search.

        One read of all the links, not one search per entity: a city has many entities whose
        attributes carry a vital sign's name (every weather station's `temperature`), and all
        of them are asked about; very few are wearables."""
        links: dict[str, Link] = {}
        system = link_system(tenant)
        offset = 0
        while True:
            query = parse_search(
                "Device",
                [
                    ("identifier", f"{system}|"),
                    ("_sort", "_id"),
                    ("_count", str(_PAGE)),
                    ("_offset", str(offset)),
                    ("_total", "none"),
                ],
                max_count=_PAGE,
            )
            found, _ = await self.fhir.store.fhir_search(query)
            for device in found:
                if device.patient is None or device.body is None:
                    continue
                for entity_id in _linked_entities(orjson.loads(device.body), system):
                    links.setdefault(entity_id, Link(device.id, device.patient))
            if len(found) < _PAGE:
                return links
            offset += _PAGE

    async def changed(self, tenant: str, changes: list[Change]) -> None:
        """The entity service's listener: samples from every changed vital-sign attribute of
        an entity a Device links in this tenant."""
        closed: list[Window] = []
        links = await self._current_links(tenant)
        for change in changes:
            after = change.after
            # most changes are of city sensors, not of patients' wearables (a weather
            # station's `temperature` is a vital sign's name too): their attributes are looked
            # at only once the entity is known to be a linked wearable
            if after is None or change.entity_id not in links:
                continue
            fresh = _fresh_vital_instances(change.before, after)
            for sign, at, value in _samples(fresh):
                closed += self.sampler.add(change.entity_id, sign, at, value, tenant)
        await self._write(closed)

    async def _write(self, windows: list[Window]) -> int:
        writes = []
        for window in windows:
            link = await self.link(window.source, window.tenant)
            if link is None:
                continue
            try:
                obs = window_observation(window, link.patient, link.device)
                writes.append(self.fhir.prepare("Observation", obs, obs["id"]))
            except DalguError as error:  # never expected: the mapping makes valid resources
                log.error("vital signs of %s not recorded: %s", window.source, error.detail)
        if writes:
            try:
                await self.fhir.write_as_system(writes)
            except DalguError as error:
                log.error("%d vital-signs Observations not stored: %s", len(writes), error.detail)
        return len(writes)


def _fresh_vital_instances(
    before: dict[str, Any] | None, after: dict[str, Any]
) -> list[tuple[VitalSign, dict[str, Any]]]:
    """(vital sign, instance) of each numeric attribute instance this change wrote."""
    fresh = []
    for name, instances in after.items():
        sign = vital_of(name)
        if sign is None or not isinstance(instances, list):
            continue
        old = (before or {}).get(name) or []
        for instance in instances:
            if not isinstance(instance, dict) or instance in old:
                continue
            value = instance.get("value")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            fresh.append((sign, instance))
    return fresh


def _linked_entities(device: dict[str, Any], system: str) -> list[str]:
    """The entity ids a Device's identifiers name in one tenant's NGSI-LD system."""
    return [
        i["value"]
        for i in device.get("identifier") or []
        if isinstance(i, dict) and i.get("system") == system and isinstance(i.get("value"), str)
    ]


def _samples(fresh: list[tuple[VitalSign, dict[str, Any]]]) -> Any:
    """(vital sign, epoch seconds, value) of each of those instances."""
    for sign, instance in fresh:
        stamp = instance.get("observedAt") or instance.get("modifiedAt")
        try:
            at = date_range(stamp)[0] if isinstance(stamp, str) else time.time()
        except DalguError:
            at = time.time()
        yield sign, at, float(instance["value"])
