"""Access points and the zones they serve: which are up, how loaded, and each zone's status.

An access point is **up** when its last `apState` says so and it has reported within the
silence limit: a unit that stops reporting (power cut, backhaul down) cannot say it is down,
so a silence longer than the limit counts as down. Its last report is `dateLastValueReported`,
else the latest `observedAt` (else `modifiedAt`) of its `clientsConnected` or `apState`.

A zone (`WifiPointOfInterest`) takes the data model's `wifiStatus` from the access points that
name it in `refPointOfInterest`: `noService` with none, `working` when all are up,
`totalFailure` when none is, `workingPartially` otherwise; its `clientsConnected` is the sum
over the access points that are up, and its load that sum over their capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dalgu.broker.model import LOCATION, Entity, first_instance, first_position
from dalgu.store.history import parse_time
from dalgu.wifi import vocabulary as v


@dataclass(frozen=True, slots=True)
class AccessPoint:
    id: str
    zone: str | None
    reported_state: str | None
    clients: int
    capacity: int
    radius: float  # metres of coverage
    position: tuple[float, float] | None  # lon, lat
    last_report: datetime | None

    def silent(self, now: datetime, silence: float) -> bool:
        return self.last_report is None or (now - self.last_report).total_seconds() > silence

    def up(self, now: datetime, silence: float) -> bool:
        """Reporting, and not reporting itself down (a unit that sends only its clients is
        taken for up)."""
        return self.reported_state != v.DOWN and not self.silent(now, silence)


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    name: str
    status: str
    up: int
    total: int
    clients: int
    load: float | None  # clients over the capacity of the access points up
    down: tuple[str, ...]  # the access points that are down
    position: tuple[float, float] | None


def _time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


def position(entity: Entity) -> tuple[float, float] | None:
    """(lon, lat) of a Point `location`."""
    instance = first_instance(entity, LOCATION)
    geometry = instance.get("value") if instance is not None else None
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return None
    return first_position(geometry)


def _number(raw: object, default: float) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw >= 0:
        return float(raw)
    return default


def _last_report(entity: Entity) -> datetime | None:
    """When the unit last said something: its `dateLastValueReported`, the `observedAt` of
    its `clientsConnected` or `apState`; only when it gives neither, when they were last
    written (`modifiedAt`: a unit's own first `apState` is written once and says nothing of
    later silence when it has observed times)."""
    found = [v.instance(entity, term) for term in ("clientsConnected", "apState")]
    instances = [i for i in found if i is not None]
    observed = [_time(v.value(entity, "dateLastValueReported"))]
    observed += [_time(i.get("observedAt")) for i in instances]
    times = [t for t in observed if t is not None]
    if not times:
        times = [t for t in (_time(i.get("modifiedAt")) for i in instances) if t]
    return max(times) if times else None


def read_access_point(entity: Entity, radius: float, capacity: int) -> AccessPoint:
    zone = v.value(entity, "refPointOfInterest")
    state = v.value(entity, "apState")
    return AccessPoint(
        entity["id"],
        zone if isinstance(zone, str) else None,
        state if isinstance(state, str) else None,
        int(_number(v.value(entity, "clientsConnected"), 0)),
        max(1, int(_number(v.value(entity, "maxClients"), capacity))),
        _number(v.value(entity, "coverageRadius"), radius),
        position(entity),
        _last_report(entity),
    )


def roll_up(zone: Entity, points: Sequence[AccessPoint], now: datetime, silence: float) -> Zone:
    """The zone's state from its access points."""
    up = [p for p in points if p.up(now, silence)]
    down = tuple(sorted(p.id for p in points if not p.up(now, silence)))
    if not points:
        status = v.NO_SERVICE
    elif not down:
        status = v.WORKING
    elif not up:
        status = v.FAILURE
    else:
        status = v.PARTIAL
    clients = sum(p.clients for p in up)
    capacity = sum(p.capacity for p in up)
    name = v.value(zone, "name")
    return Zone(
        zone["id"],
        name if isinstance(name, str) and name else zone["id"].rsplit(":", 1)[-1],
        status,
        len(up),
        len(points),
        clients,
        clients / capacity if capacity else None,
        down,
        position(zone),
    )
