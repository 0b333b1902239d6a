"""geoQ (clause 4.10) and GeoJSON geometry validation (clause 4.7), with shapely."""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
from shapely import ops
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from dalgu.errors import BadRequestData
from dalgu.query.ast import GeoQuery, GeoRel

_GEORELS: tuple[GeoRel, ...] = (
    "near",
    "within",
    "contains",
    "intersects",
    "equals",
    "disjoint",
    "overlaps",
)
_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
_DISTANCE = re.compile(r"^(maxDistance|minDistance)==(\d+(\.\d+)?)$")


EARTH_RADIUS_M = 6_371_008.8
M_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def distance_m(a: BaseGeometry, b: BaseGeometry) -> float:
    if a.intersects(b):
        return 0.0
    pa, pb = ops.nearest_points(a, b)
    return haversine(pa.x, pa.y, pb.x, pb.y)


def _position(value: Any, where: str) -> None:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise BadRequestData(f"{where}: a position is an array of 2 or 3 numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise BadRequestData(f"{where}: coordinates must be numbers")
    if not all(math.isfinite(v) for v in value):
        raise BadRequestData(f"{where}: coordinates must be finite")
    lon, lat = value[0], value[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequestData(f"{where}: position {value} is outside WGS 84 bounds")


def _positions(value: Any, depth: int, where: str) -> None:
    if depth == 0:
        _position(value, where)
        return
    if not isinstance(value, list) or not value:
        raise BadRequestData(f"{where}: coordinates are not nested as the geometry requires")
    for item in value:
        _positions(item, depth - 1, where)


_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


def shape_from_geojson(obj: object, where: str = "geometry") -> BaseGeometry:
    """A valid shapely geometry from a GeoJSON geometry object, or `BadRequestData`."""
    if not isinstance(obj, dict) or obj.get("type") not in _TYPES:
        raise BadRequestData(f"{where}: not a GeoJSON geometry of a supported type")
    kind = obj["type"]
    coordinates = obj.get("coordinates")
    _positions(coordinates, _DEPTH[kind], where)
    if kind == "LineString" and len(coordinates) < 2:  # type: ignore[arg-type]
        raise BadRequestData(f"{where}: a LineString needs at least 2 positions")
    rings = []
    if kind == "Polygon":
        rings = list(coordinates)  # type: ignore[arg-type]
    elif kind == "MultiPolygon":
        rings = [r for polygon in coordinates for r in polygon]  # type: ignore[union-attr]
    for ring in rings:
        if len(ring) < 4 or ring[0] != ring[-1]:
            raise BadRequestData(f"{where}: a polygon ring must be closed with 4+ positions")
    try:
        geometry: BaseGeometry = shape({"type": kind, "coordinates": coordinates})
    except (ValueError, TypeError, AttributeError) as exc:
        raise BadRequestData(f"{where}: invalid geometry: {exc}") from None
    return geometry


def validate_geometry(obj: object, where: str = "geometry") -> None:
    """Check a GeoJSON geometry written on an entity; shapes are built only where needed."""
    if isinstance(obj, dict) and obj.get("type") == "Point":
        _position(obj.get("coordinates"), where)
        return
    shape_from_geojson(obj, where)


def parse_geoquery(
    georel: str, geometry: str, coordinates: str | list[Any], geoproperty: str | None
) -> GeoQuery:
    """A GeoQuery from its parts (GET passes coordinates as JSON text, POST as a list)."""
    relation, *modifiers = georel.split(";")
    if relation not in _GEORELS:
        raise BadRequestData(f"georel: unknown relation {relation!r}")
    max_distance = min_distance = None
    if relation == "near":
        if len(modifiers) != 1 or not (match := _DISTANCE.match(modifiers[0])):
            raise BadRequestData("georel: near needs ;maxDistance==<m> or ;minDistance==<m>")
        if match.group(1) == "maxDistance":
            max_distance = float(match.group(2))
        else:
            min_distance = float(match.group(2))
    elif modifiers:
        raise BadRequestData(f"georel: {relation} takes no modifiers")
    if geometry not in _TYPES:
        raise BadRequestData(f"geometry: unsupported geometry type {geometry!r}")
    if isinstance(coordinates, str):
        try:
            coordinates = orjson.loads(coordinates)
        except orjson.JSONDecodeError:
            raise BadRequestData("coordinates: not a JSON array") from None
    geoshape = shape_from_geojson({"type": geometry, "coordinates": coordinates}, "coordinates")
    return GeoQuery(
        georel=relation,
        geometry=geometry,
        coordinates=coordinates,
        shape=geoshape,
        geoproperty=geoproperty or "location",
        max_distance=max_distance,
        min_distance=min_distance,
    )
