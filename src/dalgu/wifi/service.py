"""Public Wi-Fi zones on the broker: access points and zones as Smart Data Models entities,
their state kept up to date by a sweep, their coverage as GeoJSON.

A sweep (run by `WifiMonitor` every `wifi_interval` seconds) reads a tenant's access points
and zones, and writes back only what changed (`GET /wifi/zones` reads the same state and
writes nothing):

- on an access point, `reachable` (Dalgu's): false once it has been silent longer than
  `wifi_silence` seconds, true again when it reports; its own `apState` is never overwritten;
- on a zone, the data model's `wifiStatus` and `clientsConnected`, and Dalgu's
  `accessPointsUp` and `accessPointsTotal`.

So subscriptions see outages as they happen: `q=wifiStatus=="totalFailure"` with
`watchedAttributes: ["wifiStatus"]` on `WifiPointOfInterest` notifies when a zone goes dark,
`q=reachable==false` with `watchedAttributes: ["reachable"]` on `AccessPoint` when a unit falls
silent (without `watchedAttributes`, any change of a matching entity notifies: a zone that
stays dark while its client count changes, a unit's own report as it comes back). Both writes
are idempotent, so several workers may sweep at once.

A value an access point gives that cannot be used (`dalgu.wifi.zones`) is logged as a warning
by the sweep when it is new for that unit, not at every sweep.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from dalgu.broker.model import Entity
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.ldcontext.resolver import core_terms
from dalgu.query.ast import TypeName, TypeOr
from dalgu.store.base import EntityQuery
from dalgu.wifi import vocabulary as v
from dalgu.wifi.coverage import coverage
from dalgu.wifi.zones import AccessPoint, Zone, read_access_point, roll_up, stamp

PAGE: Final = 500

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WifiState:
    """A tenant's access points and zones as of `at`."""

    at: datetime
    points: tuple[AccessPoint, ...]
    zones: tuple[Zone, ...]
    #: access points naming a zone that does not exist (their own zone, in the coverage) or
    #: several zones (in none)
    orphans: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Sweep:
    state: WifiState
    written: tuple[str, ...]  # ids of the entities the sweep changed


class WifiService:
    def __init__(
        self, entities: EntityService, *, silence: float, radius: float, capacity: int
    ) -> None:
        self.entities = entities
        self.silence = silence
        self.radius = radius
        self.capacity = capacity
        self._terms = core_terms()
        #: per tenant, the problems last logged for each access point that had some
        self._logged: dict[str, dict[str, tuple[str, ...]]] = {}

    async def entities_of(self, tenant: str, term: str) -> list[Entity]:
        """Every entity of the data model's type `term` (either vocabulary), a page at a time."""
        sdm, default = v.iris(term)
        types = TypeOr((TypeName(sdm), TypeName(default)))
        found: list[Entity] = []
        while True:
            after = found[-1]["id"] if found else None
            query = EntityQuery(types=types, limit=PAGE, after=after)
            page = (await self.entities.query(tenant, query)).entities
            found += page
            if len(page) < PAGE:
                return found

    async def state(self, tenant: str, now: datetime | None = None) -> WifiState:
        """The tenant's access points and zones as they are now (nothing written)."""
        return (await self._read(tenant, now or datetime.now(UTC)))[0]

    async def _read(
        self, tenant: str, at: datetime
    ) -> tuple[WifiState, list[Entity], list[Entity]]:
        ap_entities = await self.entities_of(tenant, v.ACCESS_POINT)
        zone_entities = await self.entities_of(tenant, v.ZONE)
        points = [read_access_point(e, self.radius, self.capacity) for e in ap_entities]
        by_zone: dict[str, list[AccessPoint]] = defaultdict(list)
        for point in points:
            if point.zone:
                by_zone[point.zone].append(point)
        zones = [roll_up(e, by_zone.get(e["id"], []), at, self.silence) for e in zone_entities]
        known = {z.id for z in zones}
        orphans = tuple(
            sorted(p.id for p in points if (p.zone and p.zone not in known) or p.zones_named > 1)
        )
        return WifiState(at, tuple(points), tuple(zones), orphans), ap_entities, zone_entities

    async def sweep(self, tenant: str, now: datetime | None = None) -> Sweep:
        """The state, and what changed in it written back (see the module's docstring), in
        one batch update."""
        at = now or datetime.now(UTC)
        state, ap_entities, zone_entities = await self._read(tenant, at)
        self._log_problems(tenant, state.points)
        changes: list[tuple[Entity, dict[str, Any]]] = []
        for entity, point in zip(ap_entities, state.points, strict=True):
            reachable = not point.silent(at, self.silence)
            if v.value(entity, "reachable") is not reachable:
                changes.append((entity, {"reachable": reachable}))
        for entity, zone in zip(zone_entities, state.zones, strict=True):
            wanted = {
                "wifiStatus": zone.status,
                "clientsConnected": zone.clients,
                "accessPointsUp": zone.up,
                "accessPointsTotal": zone.total,
            }
            changed = {t: x for t, x in wanted.items() if v.value(entity, t) != x}
            if changed:
                changes.append((entity, changed))
        return Sweep(state, await self._write(tenant, changes, at))

    async def coverage(
        self,
        tenant: str,
        now: datetime | None = None,
        languages: tuple[str, ...] = (),
        select: Callable[[WifiState], WifiState] | None = None,
    ) -> dict[str, Any]:
        """The coverage as GeoJSON, zones named in the first of `languages` they have; of
        the zones `select` keeps (`selection.Selection.apply`), else of all."""
        state = await self.state(tenant, now)
        if select is not None:
            state = select(state)
        return coverage(state.zones, state.points, state.at, self.silence, languages)

    def _log_problems(self, tenant: str, points: Sequence[AccessPoint]) -> None:
        """Warn of each access point's unusable values once, when they change."""
        before = self._logged.get(tenant, {})
        now = {p.id: p.problems for p in points if p.problems}
        for ident, problems in now.items():
            if before.get(ident) != problems:
                tenant_name = tenant or "default"
                for problem in problems:
                    log.warning(
                        "wifi: access point %s (tenant %s): %s", ident, tenant_name, problem
                    )
        self._logged[tenant] = now

    async def _write(
        self, tenant: str, changes: list[tuple[Entity, dict[str, Any]]], at: datetime
    ) -> tuple[str, ...]:
        """Append the changed attributes, all in one batch; the ids written (an entity
        deleted meanwhile is left out: the next sweep sees it gone)."""
        if not changes:
            return ()
        written_at = stamp(at)
        items = []
        for entity, values in changes:
            fragment: dict[str, Any] = {"id": entity["id"]}
            for term, value in values.items():
                held = {"type": "Property", "value": value, "observedAt": written_at}
                fragment[v.key(entity, term)] = held
            items.append(parse_entity(fragment, self._terms, written_at, require_type=False))
        written = set((await self.entities.batch_update(tenant, items)).success)
        return tuple(e["id"] for e, _ in changes if e["id"] in written)


def zones_by_status(zones: Sequence[Zone]) -> dict[str, int]:
    """How many zones have each status."""
    return dict(Counter(zone.status for zone in zones))
