"""Matching registrations to a discovery query (clauses 5.10.2 and 5.12).

A registration matches when one of its RegistrationInfo elements matches the entities and
attributes asked for, its geometry may hold what the geo-query asks for, its time interval
meets the temporal query (or, without one, it has no interval), the context source filter
`csf` holds on its properties and the scope query on its scope. Discovery returns each
matching registration with only its matching RegistrationInfo elements (5.10.2.5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shapely

from dalgu.query.ast import And, GeoQuery, Linked, Or, QExpr, ScopeExpr, TypeExpr, type_holds
from dalgu.query.geo import distance_m
from dalgu.query.regex import searches
from dalgu.query.scope import scope_matches
from dalgu.registrations.model import CORE_MEMBERS, GEO_MEMBERS, entity_types, instant
from dalgu.subscriptions.matching import q_ok


@dataclass(frozen=True, slots=True)
class TemporalFilter:
    """timerel/timeAt/endTimeAt; `management` when timeproperty is createdAt, modifiedAt or
    deletedAt (matched against managementInterval), else observationInterval."""

    timerel: str
    time_at: str
    end_time_at: str | None = None
    management: bool = False


@dataclass(frozen=True, slots=True)
class RegistrationQuery:
    """What GET /csourceRegistrations asks for, names already expanded."""

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: TypeExpr | None = None
    #: attrs, plus the attributes named by q and the geoproperty of the geo-query
    attrs: tuple[str, ...] = ()
    csf: QExpr | None = None
    geo: GeoQuery | None = None
    temporal: TemporalFilter | None = None
    scope: ScopeExpr | None = None
    #: datasetId parameter: registrations naming datasetIds must share one (clause 5.12)
    dataset_ids: frozenset[str] = frozenset()


def entity_info_matches(query: RegistrationQuery, info: dict[str, Any]) -> bool:
    """Clause 5.12: the type selector holds and the ids or patterns may meet."""
    if query.types is not None and not type_holds(query.types, set(entity_types(info))):
        return False
    if not query.ids and query.id_pattern is None:
        return True
    if "id" not in info and "idPattern" not in info:
        return True
    if "id" in info:
        if info["id"] in query.ids:
            return True
        return query.id_pattern is not None and searches(query.id_pattern, info["id"])
    if any(searches(info["idPattern"], i) for i in query.ids):
        return True
    return query.id_pattern is not None  # two patterns may always meet


def information_matches(query: RegistrationQuery, info: dict[str, Any]) -> bool:
    entities = info.get("entities")
    asks_entities = query.types is not None or query.ids or query.id_pattern is not None
    if entities and asks_entities and not any(entity_info_matches(query, e) for e in entities):
        return False
    # no attribute asked for, or none registered (only entities), or one in common
    names = set(info.get("propertyNames", ())) | set(info.get("relationshipNames", ()))
    return not query.attrs or not names or bool(names & set(query.attrs))


def _interval_matches(temporal: TemporalFilter, interval: dict[str, str]) -> bool:
    start = instant(interval["startAt"])
    end = instant(interval["endAt"]) if "endAt" in interval else None
    at = instant(temporal.time_at)
    if temporal.timerel == "before":
        return start <= at
    if temporal.timerel == "after":
        return end is None or end >= at
    until = instant(temporal.end_time_at or temporal.time_at)
    return start <= until and (end is None or end >= at)


def _temporal_matches(temporal: TemporalFilter | None, doc: dict[str, Any]) -> bool:
    if temporal is None:
        return "observationInterval" not in doc and "managementInterval" not in doc
    interval = doc.get("managementInterval" if temporal.management else "observationInterval")
    return interval is not None and _interval_matches(temporal, interval)


def _geo_matches(geo: GeoQuery, doc: dict[str, Any], expand: Callable[[str], str]) -> bool:
    """The registration's geometry matches, or may contain locations that match."""
    members = {expand(m): m for m in GEO_MEMBERS}
    value = doc.get(members.get(geo.geoproperty, ""))
    if not isinstance(value, dict):
        return False
    from shapely.geometry import shape

    geometry = shape(value)
    query = geo.shape
    if geo.georel == "near":
        if geo.max_distance is not None and distance_m(geometry, query) > geo.max_distance:
            return False
        if geo.min_distance is not None:
            # some location inside the registered area must lie far enough away
            corners = [shape({"type": "Point", "coordinates": c}) for c in _corners(geometry)]
            far = max(distance_m(corner, query) for corner in corners)
            return far >= geo.min_distance
        return True
    if geo.georel == "disjoint":
        return not geometry.within(query)
    if geo.georel == "equals":
        return bool(geometry.equals(query) or geometry.contains(query))
    if geo.georel == "contains":
        # the area may hold a location that contains the query's geometry: it reaches it and
        # has as many dimensions (a point holds no polygon)
        reach = shapely.get_dimensions(geometry) >= shapely.get_dimensions(query)
        return bool(geometry.intersects(query) and reach)
    return bool(geometry.intersects(query))  # within, intersects, overlaps


def may_hold(
    doc: dict[str, Any],
    geo: GeoQuery | None,
    expand: Callable[[str], str],
    scope: ScopeExpr | None = None,
) -> bool:
    """May a registration's source hold the latest values a query asks for? Not one with an
    `observationInterval` (a historical source, clause 5.10.2.1), nor one whose `scope` the
    query's `scopeQ` does not select, nor one whose area for the geo-query's property
    (`location`, `observationSpace`, `operationSpace`) cannot match."""
    if "observationInterval" in doc:
        return False
    if scope is not None and "scope" in doc and not scope_matches(scope, doc["scope"]):
        return False
    if geo is None:
        return True
    members = {expand(m): m for m in GEO_MEMBERS}
    if not isinstance(doc.get(members.get(geo.geoproperty, "")), dict):
        return True  # no area registered for it: the source may hold anything
    return _geo_matches(geo, doc, expand)


def _corners(geometry: Any) -> list[tuple[float, float]]:
    if geometry.geom_type == "Point":
        return [(geometry.x, geometry.y)]
    minx, miny, maxx, maxy = geometry.bounds
    return [(minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy)]


def as_entity(doc: dict[str, Any], expand: Callable[[str], str]) -> dict[str, Any]:
    """The registration seen as an entity whose attributes are its context source properties
    and its plain members, so that `csf` is evaluated like `q`."""
    entity: dict[str, Any] = {"id": doc["id"], "type": [doc["type"]]}
    for key, value in doc.items():
        if key in ("id", "type", "information") or (
            isinstance(value, dict) and key in CORE_MEMBERS
        ):
            continue
        name = expand(key) if key in CORE_MEMBERS else key
        if isinstance(value, dict) and value.get("type") in ("Property", "Relationship"):
            entity[name] = [value]
        else:
            entity[name] = [{"type": "Property", "value": value}]
    return entity


def discover(
    query: RegistrationQuery,
    doc: dict[str, Any],
    expand: Callable[[str], str],
) -> dict[str, Any] | None:
    """The registration with only its matching information, or None when it does not match."""
    if not _temporal_matches(query.temporal, doc):
        return None
    if query.scope is not None and not scope_matches(query.scope, doc.get("scope", [])):
        return None
    if query.geo is not None and not _geo_matches(query.geo, doc, expand):
        return None
    if query.csf is not None and not q_ok(query.csf, as_entity(doc, expand)):
        return None
    registered = doc.get("datasetId")
    if query.dataset_ids and registered and not query.dataset_ids & set(registered):
        return None
    matching = [i for i in doc["information"] if information_matches(query, i)]
    if not matching:
        return None
    return {**doc, "information": matching}


def q_attributes(expr: QExpr) -> set[str]:
    """The attribute names a q expression speaks of (used as attrs, clause 5.10.2.4)."""
    if isinstance(expr, (And, Or)):
        return {name for term in expr.terms for name in q_attributes(term)}
    if isinstance(expr, Linked):
        return {expr.relationship}
    return {expr.path.attr}
