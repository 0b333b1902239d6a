"""What the dashboard shows of a tenant, read through the entity service: entities by type,
located entities for the map, and the latest alerts (Smart Data Models `Alert`, as the safety
service and others write them).

Names are shown as the core `@context` compacts them; an IRI no context here knows (a Smart
Data Models type from a user context) is shown by its last segment, the term it was written
with in nearly every case, and kept whole for the page's `title` attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any, Final

from dalgu.broker.model import LOCATION, VALUE_MEMBER, Entity, first_instance, first_position
from dalgu.broker.service import EntityService
from dalgu.dashboard.messages import Language
from dalgu.ldcontext.termmap import TermMap
from dalgu.query.ast import TypeName
from dalgu.query.order import OrderTerm
from dalgu.store.base import EntityQuery
from dalgu.store.history import parse_time

#: located entities drawn on the map at most (the table lists the first `LISTED` of them)
MAP_LIMIT: Final = 1000
LISTED: Final = 100
ALERT_LIMIT: Final = 20
#: readings shown for a place: the first few attributes with a plain value
READINGS: Final = 3
#: Daegu's time (Korea keeps no daylight saving time)
KST: Final = timezone(timedelta(hours=9), "KST")
SEVERITIES: Final = ("critical", "high", "medium", "low", "informational")


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
    severity: str  # one of SEVERITIES, else as written
    category: str
    description: str
    source: str
    where: tuple[float, float] | None  # (lat, lon)


@dataclass(frozen=True, slots=True)
class Places:
    places: tuple[Place, ...]
    total: int


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
        """The located entities (of one type when asked), up to `MAP_LIMIT`."""
        query = EntityQuery(
            types=TypeName(type_iri) if type_iri else None,
            attrs=(LOCATION,),
            limit=MAP_LIMIT,
            count=True,
        )
        result = await self.entities.query(tenant, query)
        places = [self._place(entity, lang) for entity in result.entities]
        located = tuple(p for p in places if p is not None)
        return Places(located, result.count if result.count is not None else len(located))

    async def alerts(self, tenant: str, lang: Language) -> Alerts:
        """The latest `Alert` entities, newest first by `dateIssued`."""
        query = EntityQuery(
            types=TypeName(self.terms.expand("Alert")),
            order=(OrderTerm(self.terms.expand("dateIssued"), direction="desc"),),
            limit=ALERT_LIMIT,
            count=True,
        )
        result = await self.entities.query(tenant, query)
        rows = tuple(self._alert(entity, lang) for entity in result.entities)
        return Alerts(rows, result.count if result.count is not None else len(rows))

    def _place(self, entity: Entity, lang: Language) -> Place | None:
        point = _point(entity)
        if point is None:
            return None
        lon, lat = point
        return Place(
            entity["id"],
            ", ".join(short_name(t, self.terms) for t in entity["type"]),
            self._label(entity, lang),
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

    def _label(self, entity: Entity, lang: Language) -> str:
        name = self._attribute(entity, "name")
        if name is not None:
            shown = _shown(name, lang)
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
            shown = _shown(instance, lang)
            if shown:
                readings.append((short_name(key, self.terms), shown))
            if len(readings) == READINGS:
                break
        return tuple(readings)

    def _alert(self, entity: Entity, lang: Language) -> AlertRow:
        def value(term: str) -> str:
            instance = self._attribute(entity, term)
            return _shown(instance, lang) if instance is not None else ""

        source = self._attribute(entity, "alertSource")
        sub = value("subCategory")
        category = value("category")
        point = _point(entity)
        return AlertRow(
            entity["id"],
            local_time(value("dateIssued")),
            value("severity"),
            f"{category} / {sub}" if category and sub else category or sub,
            value("description"),
            str(source.get("object", "")) if source is not None else "",
            (point[1], point[0]) if point is not None else None,
        )


def _point(entity: Entity) -> tuple[float, float] | None:
    """(lon, lat) of the entity's `location`: a Point, else the first position of its
    geometry."""
    instance = first_instance(entity, LOCATION)
    return first_position(instance.get("value")) if instance is not None else None


def _shown(instance: dict[str, Any], lang: Language) -> str:
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
    if isinstance(value, str | int | float):
        unit = instance.get("unitCode")
        return f"{value} {unit}" if isinstance(unit, str) else str(value)
    return ""
