"""Access points and the zones they serve: which are up, how loaded, and each zone's status.

An access point is **up** when its last `apState` is `up` (or it sends none) and it has
reported within the silence limit: a unit that stops reporting (power cut, backhaul down)
cannot say it is down, so a silence longer than the limit counts as down. Its last report is
`dateLastValueReported`, else the latest `observedAt` (else `modifiedAt`) of its
`clientsConnected` or `apState`; a time later than when the broker received it (a unit whose
clock runs ahead) is taken as the time received, so such a unit still falls silent.

A zone (`WifiPointOfInterest`) takes the data model's `wifiStatus` from the access points that
name it in `refPointOfInterest`: `noService` with none, `working` when all are up,
`totalFailure` when none is, `workingPartially` otherwise; its `clientsConnected` is the sum
over the access points that are up, and its load that sum over their capacity.

A value that cannot be right is not used, and the access point says why (`problems`): an
`apState` other than `up` or `down` (the unit is not counted up), a `clientsConnected` that is
not a whole number from 0 to 2,007 (802.11 association ids stop there; no clients counted), a
`maxClients` that is not a whole number from 1 to 2,007 or a `coverageRadius` that is not a
distance from 0 to 2,000 m (the defaults used), a `dateLastValueReported` that is not a
DateTime, a `refPointOfInterest` naming several zones, in one instance or in several (the unit
is in none, listed with those whose zone does not exist), a `location` that is not a Point, or
none (the unit is left off the coverage map). Values are shown as JSON writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from dalgu.broker.model import LOCATION, VALUE_MEMBER, Entity, first_instance, first_position
from dalgu.store.history import parse_time
from dalgu.wifi import vocabulary as v

#: clients one access point can have at most: 802.11 association ids run from 1 to 2007
MAX_CLIENTS: Final = 2007
#: how far ahead of its receipt a reported time may be before it is called a clock error
CLOCK_SKEW: Final = timedelta(seconds=60)
#: metres a unit's `coverageRadius` may be at most: street Wi-Fi reaches tens to a few
#: hundred metres; 30,000 km drew circles round the globe, past every pole
MAX_RADIUS: Final = 2_000.0


def shown(value: object) -> str:
    """A value as JSON writes it (`true`, `"UP"`), as the unit sent it."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def stamp(moment: datetime) -> str:
    """A date-time as the NGSI-LD API writes it: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    #: values that could not be used, and what was done instead (see the module's docstring)
    problems: tuple[str, ...] = ()
    #: the zones its `refPointOfInterest` names, when it names more than one
    zones_named: int = 1

    def silent(self, now: datetime, silence: float) -> bool:
        return self.last_report is None or (now - self.last_report).total_seconds() > silence

    def up(self, now: datetime, silence: float) -> bool:
        """Reporting, and saying it is up (a unit that sends only its clients is taken for
        up; one whose `apState` is neither `up` nor `down` is not)."""
        return self.reported_state in (None, v.UP) and not self.silent(now, silence)


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    name: str  # its `name` (a LanguageProperty's untagged or first text), else the id's end
    status: str
    up: int
    total: int
    clients: int
    load: float | None  # clients over the capacity of the access points up
    down: tuple[str, ...]  # the access points that are down
    position: tuple[float, float] | None
    #: a LanguageProperty `name`'s texts by language tag
    names: tuple[tuple[str, str], ...] = ()

    def name_in(self, *languages: str) -> str:
        """The name in the first of `languages` it has, else `name`."""
        texts = dict(self.names)
        return next((texts[lang] for lang in languages if lang in texts), self.name)


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


def _placed(entity: Entity, problems: list[str]) -> tuple[float, float] | None:
    """The unit's position, and in `problems` why it has none."""
    found = position(entity)
    if found is None:
        instance = first_instance(entity, LOCATION)
        geometry = instance.get("value") if instance is not None else None
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        if instance is None:
            problems.append("no location: left off the coverage map")
        else:
            problems.append(f"location is a {kind}, not a Point: left off the coverage map")
    return found


def _count(raw: object, least: int, most: int) -> int | None:
    """A whole number from `least` to `most` (3.0 is 3), else None."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    if isinstance(raw, float) and not raw.is_integer():
        return None
    return int(raw) if least <= raw <= most else None


def _received(instance: dict[str, Any]) -> datetime | None:
    return _time(instance.get("modifiedAt"))


def _as_received(
    moment: datetime | None, instance: dict[str, Any], what: str, problems: list[str]
) -> datetime | None:
    """A reported time, no later than when the broker received it."""
    received = _received(instance)
    if moment is None or received is None or moment <= received:
        return moment
    if moment - received > CLOCK_SKEW:
        problems.append(
            f"{what} {stamp(moment)} is later than its receipt ({stamp(received)}): "
            "taken as received"
        )
    return received


def _last_report(entity: Entity, problems: list[str]) -> datetime | None:
    """When the unit last said something: its `dateLastValueReported`, the `observedAt` of
    its `clientsConnected` or `apState`, each no later than it was received; only when it
    gives neither, when they were last written (`modifiedAt`: a unit's own first `apState` is
    written once and says nothing of later silence when it has observed times)."""
    found = [v.instance(entity, term) for term in ("clientsConnected", "apState")]
    instances = [i for i in found if i is not None]
    times: list[datetime | None] = []
    reported = v.instance(entity, "dateLastValueReported")
    if reported is not None:
        text = v.value(entity, "dateLastValueReported")
        moment = _time(text)
        if moment is None:
            problems.append(f"dateLastValueReported {shown(text)} is not a DateTime: ignored")
        times.append(_as_received(moment, reported, "dateLastValueReported", problems))
    for term, instance in zip(("clientsConnected", "apState"), found, strict=True):
        if instance is None:
            continue
        observed = _time(instance.get("observedAt"))
        times.append(_as_received(observed, instance, f"{term} observedAt", problems))
    known = [t for t in times if t is not None]
    if not known:
        known = [t for t in (_received(i) for i in instances) if t]
    return max(known) if known else None


def _zone_of(entity: Entity, problems: list[str]) -> tuple[str | None, int]:
    """The zone the unit serves, and how many its `refPointOfInterest` names, in every
    instance (a second instance, with a `datasetId`, names a second zone: NGSI-LD, 4.5.5)."""
    instances = [
        i
        for iri in dict.fromkeys(v.iris("refPointOfInterest"))
        for i in (entity.get(iri) or [])
        if isinstance(i, dict)
    ]
    if not instances:
        return None, 0
    zones: list[object] = []
    for instance in instances:
        held = instance.get(VALUE_MEMBER.get(str(instance.get("type", "Relationship")), "object"))
        zones += held if isinstance(held, list) else [held]
    named = list(dict.fromkeys(z if isinstance(z, str) else shown(z) for z in zones))
    if len(named) == 1 and isinstance(zones[0], str):
        return named[0], 1
    problems.append(
        f"refPointOfInterest names {len(named)} zones, where a unit serves one: in none"
    )
    return None, len(named)


def read_access_point(entity: Entity, radius: float, capacity: int) -> AccessPoint:
    problems: list[str] = []
    zone, named = _zone_of(entity, problems)
    state = v.value(entity, "apState")
    if state is not None and state not in (v.UP, v.DOWN):
        problems.append(f'apState {shown(state)} is neither "up" nor "down": not counted up')
    raw_clients = v.value(entity, "clientsConnected")
    clients = _count(raw_clients, 0, MAX_CLIENTS)
    if clients is None and raw_clients is not None:
        problems.append(
            f"clientsConnected {shown(raw_clients)} is not a count of clients "
            f"(0 to {MAX_CLIENTS:,}): ignored"
        )
    raw_capacity = v.value(entity, "maxClients")
    most = _count(raw_capacity, 1, MAX_CLIENTS)
    if most is None and raw_capacity is not None:
        problems.append(
            f"maxClients {shown(raw_capacity)} is not a whole number from 1 to {MAX_CLIENTS:,}: "
            f"{capacity} used"
        )
    raw_radius = v.value(entity, "coverageRadius")
    reach = raw_radius if isinstance(raw_radius, int | float) else None
    if isinstance(raw_radius, bool) or (reach is not None and not 0 <= reach <= MAX_RADIUS):
        reach = None
    if reach is None and raw_radius is not None:
        problems.append(
            f"coverageRadius {shown(raw_radius)} is not a distance from 0 to "
            f"{MAX_RADIUS:,.0f} m: {radius:g} used"
        )
    last = _last_report(entity, problems)
    placed = _placed(entity, problems)
    return AccessPoint(
        entity["id"],
        zone,
        state if isinstance(state, str) else None if state is None else repr(state),
        clients or 0,
        most or capacity,
        float(reach) if reach is not None else radius,
        placed,
        last,
        tuple(problems),
        named,
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
    name, names = _names(zone)
    return Zone(
        zone["id"],
        name or zone["id"].rsplit(":", 1)[-1],
        status,
        len(up),
        len(points),
        clients,
        clients / capacity if capacity else None,
        down,
        position(zone),
        names,
    )


def _names(zone: Entity) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The zone's name ("" when it has none), and a LanguageProperty's texts by language."""
    held = v.value(zone, "name")
    if isinstance(held, str):
        return held, ()
    if not isinstance(held, dict):
        return "", ()
    texts = tuple((str(k), t) for k, t in held.items() if isinstance(t, str) and t)
    untagged = dict(texts).get("@none")
    return untagged or (texts[0][1] if texts else ""), texts
