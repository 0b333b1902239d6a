"""geoQ (ETSI GS CIM 009 V1.9.1 clause 4.10) and GeoJSON geometries (clause 4.7, RFC 7946).

`georel` follows the clause's ABNF exactly: `near;maxDistance==N` / `near;minDistance==N` with N
a non-zero JSON number without sign (metres), or one of the other six relations. Every error is
`BadRequestData` (clause 5.7.2.4: a geoquery that is not syntactically valid).

Geometries must be valid in the OGC sense as well as in RFC 7946: positions of 2 or 3 finite
numbers within WGS 84 bounds, LineStrings of 2+ positions, closed rings of 4+ positions, and
polygons without self-intersections (shapely's `is_valid`), so that no store meets a geometry its
spatial functions cannot evaluate. `haversine` and `distance_m` measure metres on the sphere for
the stores that evaluate `near` themselves.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
import shapely
from lark import Token, Transformer
from shapely import ops
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from dalgu.errors import BadRequestData
from dalgu.query.ast import GeoQuery, GeoRel
from dalgu.query.q import build_parser, cached_parse

GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}

_GEOREL = r"""
start: NEAR _SEMI DISTANCE _EQ NUMBER  -> near
     | RELATION                        -> relation
NEAR: "near"
RELATION: "within" | "contains" | "intersects" | "equals" | "disjoint" | "overlaps"
DISTANCE: "maxDistance" | "minDistance"
_SEMI: ";"
_EQ: "=="
NUMBER: /(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/
"""
_PHRASES = {
    "NEAR": "a relation (near, within, contains, intersects, equals, disjoint, overlaps)",
    "RELATION": "a relation (near, within, contains, intersects, equals, disjoint, overlaps)",
    "_SEMI": "';'",
    "DISTANCE": "maxDistance or minDistance",
    "_EQ": "'=='",
    "NUMBER": "a distance in metres",
    "$END": "the end",
}

_Georel = tuple[GeoRel, float | None, float | None]
_NAME = re.compile(r"[^\s\x00-\x1f\"'<>=;()\[\]{}\\`]{1,1024}")


class _ToGeorel(Transformer[Token, Any]):
    def near(self, children: list[Token]) -> _Georel:
        token = children[2]
        metres = float(token)
        if not 0 < metres < math.inf:
            raise BadRequestData(
                f"georel: the distance must be a positive number at position {token.start_pos}"
            )
        if children[1] == "maxDistance":
            return ("near", metres, None)
        return ("near", None, metres)

    def relation(self, children: list[Token]) -> _Georel:
        relation: GeoRel = children[0].value
        return (relation, None, None)


_PARSER = build_parser(_GEOREL, _ToGeorel(), _PHRASES)
_parse_georel = cached_parse(_PARSER, "georel", _PHRASES)  # ~35 µs a parse, ~1 µs kept


EARTH_RADIUS_M = 6_371_008.8
M_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two lon/lat points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    # products, not powers: the SQLite store computes the same expression in SQL, operation
    # for operation, to the same double (`store/sqlite/near.py`)
    a, b = math.sin(dp / 2), math.sin(dl / 2)
    h = a * a + math.cos(p1) * math.cos(p2) * (b * b)
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def distance_m(a: BaseGeometry, b: BaseGeometry) -> float:
    """Metres between the nearest points of two lon/lat geometries (0 when they meet).

    The nearest points are found on a local map around `b` (`local_map`): longitudes as seen from
    `b`'s centre, across the antimeridian where that is nearer, and shrunk by the cosine of its
    latitude, so that a degree east weighs what it measures there. Found on raw degrees, they
    were the nearest in degrees: a line's distance was off by 2-3 % at 40° of latitude, and a
    polygon just across the antimeridian was measured from its far side."""
    if a.intersects(b):
        return 0.0
    lon0, lat0, scale = map_centre(b)
    here = local_map(a, lon0, lat0, scale)
    there = local_map(b, lon0, lat0, scale)
    if here.intersects(there):
        return 0.0
    pa, pb = ops.nearest_points(here, there)
    return haversine(lon0 + pa.x / scale, lat0 + pa.y, lon0 + pb.x / scale, lat0 + pb.y)


def map_centre(b: BaseGeometry) -> tuple[float, float, float]:
    """(lon0, lat0, scale) of the local map `distance_m` measures on around `b`."""
    centre = b.centroid if not b.is_empty else b
    lon0, lat0 = float(centre.x), float(centre.y)
    return lon0, lat0, max(math.cos(math.radians(lat0)), 0.01)


_ORIGIN = shapely.Point(0.0, 0.0)


def local_map(geometry: BaseGeometry, lon0: float, lat0: float, scale: float) -> BaseGeometry:
    """`geometry` on the map of `distance_m` (`_local`); a point is its own centre: (0, 0) on
    the map, without a transform (a third of the cost)."""
    if geometry.geom_type == "Point" and geometry.x == lon0 and geometry.y == lat0:
        return _ORIGIN
    return _local(geometry, lon0, lat0, scale)


def _local(geometry: BaseGeometry, lon0: float, lat0: float, scale: float) -> BaseGeometry:
    """`geometry` on the map of `distance_m`: x = (longitude - lon0, within ±180) × scale,
    y = latitude - lat0."""

    def move(xy: Any) -> Any:
        x, y = xy[:, 0], xy[:, 1]  # in place: the coordinates are shapely's copy
        x -= lon0 - 180.0
        x %= 360.0
        x -= 180.0
        x *= scale
        y -= lat0
        return xy

    return shapely.transform(geometry, move)


def _position(value: Any, where: str) -> None:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise BadRequestData(f"{where}: a position is an array of 2 or 3 numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise BadRequestData(f"{where}: coordinates must be numbers")
    if not all(math.isfinite(v) for v in value):
        raise BadRequestData(f"{where}: coordinates must be finite")
    lon, lat = value[0], value[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequestData(
            f"{where}: position {value} is outside WGS 84 bounds "
            "(longitude -180..180, latitude -90..90)"
        )


def _positions(value: Any, depth: int, where: str) -> None:
    if depth == 0:
        _position(value, where)
        return
    if not isinstance(value, list) or not value:
        raise BadRequestData(f"{where}: coordinates are not nested as the geometry type requires")
    for item in value:
        _positions(item, depth - 1, where)


def _check_parts(kind: str, coordinates: list[Any], where: str) -> None:
    lines = [coordinates] if kind == "LineString" else coordinates
    if kind in ("LineString", "MultiLineString") and any(len(line) < 2 for line in lines):
        raise BadRequestData(f"{where}: a LineString needs at least 2 positions")
    polygons = [coordinates] if kind == "Polygon" else coordinates
    if kind in ("Polygon", "MultiPolygon"):
        for ring in (ring for polygon in polygons for ring in polygon):
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise BadRequestData(
                    f"{where}: a polygon ring must be closed (first position = last) "
                    "and have at least 4 positions"
                )


def shape_from_geojson(
    obj: object, where: str = "geometry", *, require_valid: bool = True
) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry object, or `BadRequestData`.

    `require_valid` also rejects polygons that are well-formed GeoJSON but not valid simple
    features (self-intersecting rings): query geometries must be valid; entity geometries
    may be such polygons (RFC 7946 does not forbid them) and are matched as their valid
    equivalent (`shapely.make_valid`, `ST_MakeValid`).
    """
    if not isinstance(obj, dict):
        raise BadRequestData(f"{where}: a GeoJSON geometry is a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in _DEPTH:
        raise BadRequestData(
            f"{where}: {kind!r} is not a supported GeoJSON geometry type; "
            f"expected one of {', '.join(GEOMETRY_TYPES)}"
        )
    coordinates = obj.get("coordinates")
    _positions(coordinates, _DEPTH[kind], where)
    assert isinstance(coordinates, list)
    _check_parts(kind, coordinates, where)
    try:
        geometry: BaseGeometry = shape({"type": kind, "coordinates": coordinates})
    except (ValueError, TypeError, AttributeError, ShapelyError) as exc:
        raise BadRequestData(f"{where}: invalid {kind}: {exc}") from None
    if geometry.has_z:  # an altitude (RFC 7946 3.1.1): geo-queries compare on the map
        geometry = shapely.force_2d(geometry)
    if require_valid and kind in ("Polygon", "MultiPolygon") and not geometry.is_valid:
        raise BadRequestData(f"{where}: invalid {kind}: {explain_validity(geometry)}")
    return geometry


def validate_geometry(obj: object, where: str = "geometry") -> None:
    """Check a GeoJSON geometry written on an entity; shapes are built only where needed."""
    if isinstance(obj, dict) and obj.get("type") == "Point":
        _position(obj.get("coordinates"), where)
        return
    shape_from_geojson(obj, where, require_valid=False)


def parse_geoquery(
    georel: str, geometry: str, coordinates: str | list[Any], geoproperty: str | None
) -> GeoQuery:
    """A GeoQuery from its parts (GET passes coordinates as JSON text, POST as a list)."""
    relation, max_distance, min_distance = _parse_georel(georel)
    if not isinstance(geometry, str) or geometry not in _DEPTH:
        raise BadRequestData(
            f"geometry: {geometry!r} is not supported; expected one of {', '.join(GEOMETRY_TYPES)}"
        )
    if isinstance(coordinates, str):
        try:
            coordinates = orjson.loads(coordinates)
        except orjson.JSONDecodeError:
            raise BadRequestData("coordinates: not valid JSON") from None
    if geoproperty is not None and not (
        isinstance(geoproperty, str) and _NAME.fullmatch(geoproperty)
    ):
        raise BadRequestData(f"geoproperty: {geoproperty!r} is not an attribute name")
    reference = shape_from_geojson(
        {"type": geometry, "coordinates": coordinates}, "coordinates", require_valid=False
    )
    if not reference.is_valid:  # a self-intersecting polygon asks for its valid equivalent
        reference = shapely.make_valid(reference)
    return GeoQuery(
        georel=relation,
        geometry=geometry,
        coordinates=coordinates,
        shape=reference,
        geoproperty=geoproperty or "location",
        max_distance=max_distance,
        min_distance=min_distance,
    )
