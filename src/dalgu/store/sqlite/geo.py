"""Geo-query evaluation for the SQLite store: R*Tree boxes, then exact shapely predicates.

Distances for `near` are geodesic (haversine between the nearest points, in metres), as
clause 4.10 asks for distances in metres on WGS 84.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import orjson
import shapely
from shapely.geometry import shape as geometry_shape
from shapely.geometry.base import BaseGeometry

from dalgu.query.ast import GeoQuery
from dalgu.query.geo import M_PER_DEGREE, distance_m, haversine


def search_box(geo: GeoQuery) -> tuple[float, float, float, float] | None:
    """The R*Tree box that must overlap a matching geometry's box; None when none bounds it."""
    if geo.georel == "disjoint" or (geo.georel == "near" and geo.max_distance is None):
        return None
    minx, miny, maxx, maxy = geo.shape.bounds
    if geo.georel == "near" and geo.max_distance is not None:
        dlat = geo.max_distance / M_PER_DEGREE * 1.01
        south, north = max(-90.0, miny - dlat), min(90.0, maxy + dlat)
        widest = max(abs(miny), abs(maxy)) + dlat
        if widest >= 89.0:  # near a pole every longitude may be within the distance
            return (-180.0, south, 180.0, north)
        dlon = dlat / math.cos(math.radians(widest))
        if minx - dlon < -180.0 or maxx + dlon > 180.0:  # across the antimeridian
            return (-180.0, south, 180.0, north)
        return (minx - dlon, south, maxx + dlon, north)
    return (minx, miny, maxx, maxy)


@lru_cache(maxsize=64)
def _query_shape(wkb: bytes) -> BaseGeometry:
    shape: BaseGeometry = shapely.from_wkb(wkb)
    shapely.prepare(shape)
    return shape


@lru_cache(maxsize=65536)
def _entity_shape(geojson: bytes) -> BaseGeometry:
    shape: BaseGeometry = geometry_shape(orjson.loads(geojson))
    if not shape.is_valid:  # e.g. a self-intersecting polygon: match its valid equivalent
        shape = shapely.make_valid(shape)
    return shape


@lru_cache(maxsize=64)
def _query_point(wkb: bytes) -> tuple[float, float] | None:
    shape = _query_shape(wkb)
    return (shape.x, shape.y) if shape.geom_type == "Point" and not shape.is_empty else None


@lru_cache(maxsize=65536)
def _entity_point(geojson: bytes) -> tuple[float, float] | None:
    geometry = orjson.loads(geojson)
    if geometry.get("type") != "Point":
        return None
    x, y = geometry["coordinates"][:2]
    return (float(x), float(y))


def _distance(entity_geo: bytes, query_wkb: bytes) -> float:
    """`distance_m` of the entity's geometry to the query's; between two points (the common
    case: vehicles, sensors, a `near` around a place) without building shapes, to the same
    result: 0 for the same point, else the haversine between them."""
    here = _entity_point(entity_geo)
    there = _query_point(query_wkb) if here is not None else None
    if here is None or there is None:
        return distance_m(_entity_shape(entity_geo), _query_shape(query_wkb))
    return 0.0 if here == there else haversine(here[0], here[1], there[0], there[1])


def bounding_box(geometry: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """(minx, miny, maxx, maxy) of a GeoJSON geometry, without building a shape."""
    xs: list[float] = []
    ys: list[float] = []
    stack = [geometry.get("coordinates")]
    while stack:
        item = stack.pop()
        if isinstance(item, list) and item and isinstance(item[0], (int, float)):
            if len(item) < 2:
                return None
            xs.append(item[0])
            ys.append(item[1])
        elif isinstance(item, list):
            stack.extend(item)
    if not xs:
        return None
    return (min(xs), min(ys), max(xs), max(ys))


def geo_match(
    georel: str, query_wkb: bytes, max_d: float | None, min_d: float | None, entity_geo: bytes
) -> int:
    """SQL function: 1 when the entity geometry satisfies the geo-query."""
    result: Any
    if georel == "near":
        distance = _distance(entity_geo, query_wkb)
        return int((max_d is None or distance <= max_d) and (min_d is None or distance >= min_d))
    query = _query_shape(query_wkb)
    entity = _entity_shape(entity_geo)
    if georel == "within":
        result = entity.within(query)
    elif georel == "contains":
        result = entity.contains(query)
    elif georel == "intersects":
        result = entity.intersects(query)
    elif georel == "equals":
        result = entity.equals(query)
    elif georel == "disjoint":
        result = entity.disjoint(query)
    elif georel == "overlaps":
        result = entity.overlaps(query)
    else:
        result = False
    return 1 if result else 0


def geo_point_match(georel: str, query_wkb: bytes, x: float, y: float) -> int:
    """SQL function: 1 when the point (x, y) is `within` or `intersects` the query's shape
    (`near.point_test`): what `geo_match` answers for that point's shape, with no shape made
    (a point within a shape is one its shape contains; shapely's `contains_xy` is that test)."""
    query = _query_shape(query_wkb)
    if georel == "within":
        return 1 if shapely.contains_xy(query, x, y) else 0
    return 1 if shapely.intersects_xy(query, x, y) else 0


def geo_distance(query_wkb: bytes, entity_geo: bytes) -> float:
    """SQL function: metres from the entity's geometry to the query's (orderBy dist-asc)."""
    return _distance(entity_geo, query_wkb)
