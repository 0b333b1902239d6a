"""What the dashboard shows of a tenant, read through the entity service: entities by type,
located entities for the map, and the latest alerts (Smart Data Models `Alert`, as the safety
service and others write them).

Names are shown as the core `@context` compacts them; an IRI no context here knows (a Smart
Data Models type from a user context) is shown by its last segment, the term it was written
with in nearly every case, and kept whole for the page's `title` attributes.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from dalgu.broker.model import (
    LOCATION,
    VALUE_MEMBER,
    Entity,
    first_instance,
    first_position,
    is_datetime,
)
from dalgu.broker.service import EntityService
from dalgu.dashboard import alertwords
from dalgu.dashboard.messages import Language
from dalgu.ldcontext.termmap import TermMap
from dalgu.query.ast import TypeName, map_names
from dalgu.query.order import OrderTerm
from dalgu.query.q import parse_q
from dalgu.store.base import EntityQuery
from dalgu.store.history import parse_time

#: located entities drawn on the map at most, shared among the types (the table lists the
#: first `LISTED` of them)
MAP_LIMIT: Final = 1000
LISTED: Final = 100
ALERT_LIMIT: Final = 20
#: alerts whose `dateIssued` reads as a date read at most, to find the newest `ALERT_LIMIT`
#: DateTimes among them (the store orders text as text: "yesterday" sorts after any date)
ALERT_SCAN: Final = 5 * ALERT_LIMIT
#: a `q` keeping the `dateIssued` texts that begin with a digit: dates, not words or numbers
_DATED: Final = 'dateIssued>="0";dateIssued<":"'
#: readings shown for a place: the first few attributes with a plain value
READINGS: Final = 3
#: Daegu's time (Korea keeps no daylight saving time)
KST: Final = timezone(timedelta(hours=9), "KST")
SEVERITIES: Final = ("critical", "high", "medium", "low", "informational")
#: UN/CEFACT unit codes (NGSI-LD `unitCode`) as a reader writes them; other codes are shown
UNITS: Final = {
    "GQ": "µg/m³",
    "CEL": "°C",
    "FAH": "°F",
    "KEL": "K",
    "P1": "%",
    "KMH": "km/h",
    "MTS": "m/s",
    "MTR": "m",
    "KMT": "km",
    "CMT": "cm",
    "MMT": "mm",
    "KGM": "kg",
    "A97": "hPa",
    "MBR": "mbar",
    "LUX": "lx",
    "WTT": "W",
    "KWT": "kW",
    "KWH": "kWh",
    "VLT": "V",
    "AMP": "A",
    "2N": "dB",
    "MIN": "min",
    "SEC": "s",
    "HUR": "h",
    "59": "ppm",
    "61": "ppb",
    "DD": "°",
    "H87": "",
    "C62": "",
}


@dataclass(frozen=True, slots=True)
class TypeCount:
    iri: str
    name: str
    count: int
    attributes: int


@dataclass(frozen=True, slots=True)
class Place:
    id: str
    type: str
    label: str
    lon: float
    lat: float
    readings: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: str
    issued: str  # as shown: Daegu's local time
    issued_at: str | None  # the DateTime in ISO 8601, for a <time datetime>; None when not one
    severity: str  # one of SEVERITIES, else as written
    category: str
    description: str
    source: str
    where: tuple[float, float] | None  # (lat, lon)


@dataclass(frozen=True, slots=True)
class Places:
    places: tuple[Place, ...]  # the types interleaved, so the first few show every type
    total: int
    #: each type's located entities (its short name, as `Place.type`), drawn or not
    located: Mapping[str, int] = field(default_factory=dict)

    @property
    def capped(self) -> bool:
        """Whether some located entities are left out."""
        return len(self.places) < self.total


@dataclass(frozen=True, slots=True)
class Alerts:
    alerts: tuple[AlertRow, ...]
    total: int


def short_name(iri: str, terms: TermMap) -> str:
    """The term the core context gives `iri`, else its last path segment or fragment."""
    name = terms.compact(iri)
    if "://" not in name and not name.startswith("urn:"):
        return name
    tail = name.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1]
    return tail or name


def local_time(stamp: str) -> str:
    """An ISO 8601 date-time as Daegu reads it (`2026-12-06 01:31:04 KST`); anything else as
    given."""
    try:
        moment = parse_time(stamp)
    except ValueError:
        return stamp
    return moment.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S KST")


class CityOverview:
    """Reads what the dashboard shows; knows nothing of HTML."""

    def __init__(self, entities: EntityService, terms: TermMap) -> None:
        self.entities = entities
        self.terms = terms

    async def types(self, tenant: str) -> list[TypeCount]:
        """The tenant's entity types, the most numerous first."""
        found = [
            TypeCount(
                info.type,
                short_name(info.type, self.terms),
                info.entity_count,
                len(info.attributes),
            )
            for info in await self.entities.types(tenant)
        ]
        return sorted(found, key=lambda t: (-t.count, t.name.lower()))

    async def places(self, tenant: str, type_iri: str | None, lang: Language) -> Places:
        """The located entities (of one type when asked), up to `MAP_LIMIT`: when there are
        more, each type gets a fair share (`fair_shares`), so a numerous type does not push
        the others off the map."""
        if type_iri is not None:
            found, total = await self._located(tenant, type_iri, MAP_LIMIT)
            located = [p for p in (self._place(e, lang) for e in found) if p is not None]
            counts = {located[0].type: total} if located else {}
            return Places(tuple(located), total, counts)
        _, total = await self._located(tenant, None, 0)
        by_type: dict[str, int] = {}
        for info in await self.entities.types(tenant):
            by_type[info.type] = (await self._located(tenant, info.type, 0))[1]
        shares = fair_shares(by_type, MAP_LIMIT)
        seen: set[str] = set()
        columns: list[list[Place]] = []
        located_by_name: dict[str, int] = {}
        for iri, share in shares.items():
            name = short_name(iri, self.terms)
            located_by_name[name] = located_by_name.get(name, 0) + by_type[iri]
            found, _ = await self._located(tenant, iri, share) if share else ([], 0)
            column = []
            for entity in found:
                place = self._place(entity, lang) if entity["id"] not in seen else None
                if place is not None:
                    seen.add(place.id)
                    column.append(place)
            columns.append(column)
        interleaved = tuple(
            p for row in itertools.zip_longest(*columns) for p in row if p is not None
        )
        return Places(interleaved, total, located_by_name)

    async def _located(
        self, tenant: str, type_iri: str | None, limit: int
    ) -> tuple[list[Entity], int]:
        """Up to `limit` located entities (of one type when given), and how many there are."""
        query = EntityQuery(
            types=TypeName(type_iri) if type_iri else None,
            attrs=(LOCATION,),
            limit=limit,
            count=True,
        )
        result = await self.entities.query(tenant, query)
        found = result.entities if limit else []
        return found, result.count if result.count is not None else len(found)

    async def alerts(self, tenant: str, lang: Language) -> Alerts:
        """The latest `Alert` entities, newest first by `dateIssued`; those whose `dateIssued`
        is not a DateTime (a word, a number, none) after every dated one."""
        alert_type = TypeName(self.terms.expand("Alert"))
        issued = self.terms.expand("dateIssued")
        dated_query = EntityQuery(
            types=alert_type,
            q=map_names(parse_q(_DATED), self.terms.expand),
            order=(OrderTerm(issued, direction="desc"),),
            limit=ALERT_SCAN,
        )
        candidates = (await self.entities.query(tenant, dated_query)).entities
        dated = sorted(
            ((moment, e) for e in candidates if (moment := self._issued(e)) is not None),
            key=lambda pair: pair[0],
            reverse=True,
        )
        chosen = [entity for _, entity in dated[:ALERT_LIMIT]]
        everything = EntityQuery(types=alert_type, limit=ALERT_LIMIT + len(chosen), count=True)
        result = await self.entities.query(tenant, everything)
        if len(chosen) < ALERT_LIMIT:
            taken = {e["id"] for e in chosen}
            undated = [e for e in result.entities if e["id"] not in taken]
            chosen += undated[: ALERT_LIMIT - len(chosen)]
        rows = tuple(self._alert(entity, lang) for entity in chosen)
        return Alerts(rows, result.count if result.count is not None else len(rows))

    def _issued(self, entity: Entity) -> datetime | None:
        """The alert's `dateIssued` when it is a DateTime."""
        instance = self._attribute(entity, "dateIssued")
        held = instance.get("value") if instance is not None else None
        if isinstance(held, dict):
            held = held.get("@value")
        if not isinstance(held, str) or not is_datetime(held):
            return None
        try:
            return parse_time(held)
        except ValueError:
            return None

    def _place(self, entity: Entity, lang: Language) -> Place | None:
        point = _point(entity)
        if point is None:
            return None
        lon, lat = point
        return Place(
            entity["id"],
            ", ".join(short_name(t, self.terms) for t in entity["type"]),
            self.label(entity, lang),
            lon,
            lat,
            self._readings(entity, lang),
        )

    def _attribute(self, entity: Entity, term: str) -> dict[str, Any] | None:
        """The first instance of the attribute `term` names: its IRI by the core context, else
        any attribute of that short name (`name` of Smart Data Models is not the core's)."""
        found = first_instance(entity, self.terms.expand(term))
        if found is not None:
            return found
        for key in entity:
            if "/" in key and short_name(key, self.terms) == term:
                return first_instance(entity, key)
        return None

    def label(self, entity: Entity, lang: Language) -> str:
        name = self._attribute(entity, "name")
        if name is not None:
            shown = shown_value(name, lang)
            if shown:
                return shown
        return str(entity["id"]).rsplit(":", 1)[-1]

    def _readings(self, entity: Entity, lang: Language) -> tuple[tuple[str, str], ...]:
        readings: list[tuple[str, str]] = []
        for key, instances in entity.items():
            if key == LOCATION or not isinstance(instances, list) or not instances:
                continue
            if short_name(key, self.terms) == "name":
                continue
            instance = instances[0]
            if not isinstance(instance, dict) or instance.get("type") != "Property":
                continue
            shown = shown_value(instance, lang)
            observed = instance.get("observedAt")
            if shown and isinstance(observed, str):
                # when it was so: a value written every sweep (a Wi-Fi zone's clients) is
                # not the live one the page's own tables show
                shown = f"{shown} ({local_time(observed)})"
            if shown:
                readings.append((short_name(key, self.terms), shown))
            if len(readings) == READINGS:
                break
        return tuple(readings)

    def _alert(self, entity: Entity, lang: Language) -> AlertRow:
        def value(term: str) -> str:
            instance = self._attribute(entity, term)
            return shown_value(instance, lang) if instance is not None else ""

        source = self._attribute(entity, "alertSource")
        sub = alertwords.subcategory(value("subCategory"), lang)
        category = alertwords.category(value("category"), lang)
        described = alertwords.description(
            value("description"), value("alertType"), value("alertSubType"), lang
        )
        point = _point(entity)
        moment = self._issued(entity)
        return AlertRow(
            entity["id"],
            local_time(value("dateIssued")),
            moment.isoformat().replace("+00:00", "Z") if moment is not None else None,
            value("severity"),
            f"{category} / {sub}" if category and sub else category or sub,
            described,
            _source(source, lang),
            (point[1], point[0]) if point is not None else None,
        )


def _source(instance: dict[str, Any] | None, lang: Language) -> str:
    """An alert's `alertSource`: a Relationship's object, else a Property's value (Smart Data
    Models gives it as text or a URI)."""
    if instance is None:
        return ""
    if "object" in instance:
        return str(instance["object"])
    return shown_value(instance, lang)


def fair_shares(counts: Mapping[str, int], limit: int) -> dict[str, int]:
    """How many of each kind to take, `limit` in all, shared as evenly as the counts allow
    (max-min fairness: a kind with fewer than its even share gives the rest to the others;
    what does not divide evenly goes to the most numerous first)."""
    shares = dict.fromkeys(counts, 0)
    left = limit
    waiting = sorted((k for k in counts if counts[k] > 0), key=lambda k: (counts[k], k))
    while waiting and left > 0:
        even = left // len(waiting)
        if even == 0:
            for kind in sorted(waiting, key=lambda k: (-counts[k], k))[:left]:
                shares[kind] += 1
            break
        smallest = waiting[0]
        step = min(even, counts[smallest] - shares[smallest])
        for kind in waiting:
            shares[kind] += step
        left -= step * len(waiting)
        waiting = [k for k in waiting if shares[k] < counts[k]]
    return shares


def _point(entity: Entity) -> tuple[float, float] | None:
    """(lon, lat) of the entity's `location`: a Point, else the first position of its
    geometry."""
    instance = first_instance(entity, LOCATION)
    return first_position(instance.get("value")) if instance is not None else None


def shown_value(instance: dict[str, Any], lang: Language) -> str:
    """An attribute instance's value as a short text ("" when it has none worth showing)."""
    kind = instance.get("type", "Property")
    value = instance.get(VALUE_MEMBER.get(kind, "value"))
    if kind == "LanguageProperty" and isinstance(value, dict):
        chosen = value.get(lang) or value.get("@none") or next(iter(value.values()), "")
        return str(chosen) if isinstance(chosen, str | int | float) else ""
    if isinstance(value, dict) and "@value" in value:
        value = value["@value"]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        value = ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if is_datetime(value):
        return local_time(str(value))  # Daegu's time, as the page's others
    if isinstance(value, str | int | float):
        unit = instance.get("unitCode")
        if not isinstance(unit, str):
            return str(value)
        symbol = UNITS.get(unit, unit)
        return f"{value} {symbol}" if symbol else str(value)
    return ""
