"""`near` (clause 4.10) in PostgreSQL, measured as the SQLite store and the subscriptions'
matcher measure it (`dalgu.query.geo.distance_m`).

A line between two positions is straight in lon/lat (RFC 7946 section 3.1.1), as `within` and
`intersects` take it on the `geometry` column. PostGIS's `geography` draws it along the great
circle: a line along a parallel bows toward the pole (700 m north of its lon/lat line over
2.5° at 50° N), so `near` a LineString, or near a Point from a LineString entity, answered
otherwise than SQLite, and than this store's own `within`. The distance is therefore taken as
`distance_m` takes it: 0 where the two meet, else the haversine (the same sphere) between their
nearest points found on a local map around the query geometry (longitudes as seen from its
centre, shrunk by the cosine of its latitude).

A `maxDistance` first bounds the stored geometries by a planar distance in degrees that holds
every place within that many metres of the query geometry (`ST_DWithin` on `geo_geom`, which
the index drives: along a diagonal street a box held far more candidates). None is used where
it would reach a pole or across the antimeridian.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import shapely

from dalgu.query.ast import GeoQuery
from dalgu.query.geo import EARTH_RADIUS_M, local_map, map_centre

Bind = Callable[[Any], str]  # appends a parameter, returns its placeholder


def near_test(geo: GeoQuery, column: str, bind: Bind) -> str:
    """SQL true when the geometry in `column` (SRID 4326) is `near` the query's."""
    shape = f"ST_GeomFromWKB({bind(shapely.to_wkb(geo.shape))}::bytea, 4326)"
    metres = f"(CASE WHEN GeometryType({column}) = 'POINT' THEN {_from_point(geo, column, bind)} "
    metres += f"ELSE {_from_any(geo, column, shape, bind)} END)"
    if geo.max_distance is None:
        return f"{metres} >= {bind(geo.min_distance)}::float8"
    test = f"{metres} <= {bind(geo.max_distance)}::float8"
    reach = _reach(geo.shape, geo.max_distance)
    if reach is None:
        return test
    return f"ST_DWithin({column}, {shape}, {bind(reach)}::float8) AND {test}"


def _map(geo: GeoQuery, bind: Bind) -> tuple[str, str, str, str]:
    """lon0, lat0 and scale of the query's map (`distance_m`), and its geometry there."""
    lon0, lat0, scale = map_centre(geo.shape)
    there = local_map(geo.shape, lon0, lat0, scale)
    x0, y0, k = (f"{bind(v)}::float8" for v in (lon0, lat0, scale))
    # a sub-select: one InitPlan, not a parse of the WKB for each row
    return x0, y0, k, f"(SELECT ST_GeomFromWKB({bind(shapely.to_wkb(there))}::bytea, 4326))"


def _from_point(geo: GeoQuery, column: str, bind: Bind) -> str:
    """Metres from a stored point (most are): the haversine to the query's point, or to the
    nearest point of the query's geometry on the map, moving no geometry there. A point on
    the query's geometry is its own nearest point: 0."""
    lon, lat = f"ST_X({column})", f"ST_Y({column})"
    if geo.shape.geom_type == "Point":
        return _haversine(lon, lat, f"{bind(geo.shape.x)}::float8", f"{bind(geo.shape.y)}::float8")
    x0, y0, k, there = _map(geo, bind)
    shifted = f"({lon} - ({x0} - 180))"  # Python's `%`: a floor, not a truncation
    x = f"({shifted} - 360 * floor({shifted} / 360) - 180) * {k}"
    on_map = f"ST_SetSRID(ST_MakePoint({x}, {lat} - {y0}), 4326)"
    nearest = _haversine(lon, lat, f"({x0} + ST_X(q.pb) / {k})", f"({y0} + ST_Y(q.pb))")
    metres = f"(SELECT {nearest} FROM (SELECT ST_ClosestPoint({there}, {on_map}) AS pb) q)"
    # a point on the antimeridian may meet the query's geometry on the other side of the map
    shape = f"ST_GeomFromWKB({bind(shapely.to_wkb(geo.shape))}::bytea, 4326)"
    meets = f"abs({lon}) = 180 AND ST_Intersects({column}, {shape})"
    return f"(CASE WHEN {meets} THEN 0 ELSE {metres} END)"


def _from_any(geo: GeoQuery, column: str, shape: str, bind: Bind) -> str:
    """Metres from any stored geometry: 0 where it meets the query's, else the haversine
    between their nearest points on the map."""
    x0, y0, k, there = _map(geo, bind)
    # the stored geometry on the map: longitudes from lon0 within ±180°, then scaled
    moved = f"ST_Translate({column}, -{x0}, -{y0})"
    here = f"ST_Scale(ST_WrapX(ST_WrapX({moved}, 180, -360), -180, 360), {k}, 1)"
    lon1, lon2 = f"({x0} + ST_X(n.pa) / {k})", f"({x0} + ST_X(n.pb) / {k})"
    metres = _haversine(lon1, f"({y0} + ST_Y(n.pa))", lon2, f"({y0} + ST_Y(n.pb))")
    nearest = (
        f"(SELECT {metres} FROM (SELECT "
        "ST_ClosestPoint(m.h, m.t) AS pa, ST_ClosestPoint(m.t, m.h) AS pb "
        f"FROM (SELECT {here} AS h, {there} AS t) m) n)"
    )
    return f"(CASE WHEN ST_Intersects({column}, {shape}) THEN 0 ELSE {nearest} END)"


def _haversine(lon1: str, lat1: str, lon2: str, lat2: str) -> str:
    """`dalgu.query.geo.haversine` in SQL, on four SQL expressions in degrees."""
    p1, p2, dl = f"radians({lat1})", f"radians({lat2})", f"radians({lon2} - {lon1})"
    a, b = f"sin(({p2} - {p1}) / 2)", f"sin({dl} / 2)"
    h = f"{a} * {a} + cos({p1}) * cos({p2}) * ({b} * {b})"
    return f"(2 * {EARTH_RADIUS_M!r} * asin(least(1.0, sqrt({h}))))"


def _reach(shape: Any, metres: float) -> float | None:
    """A planar distance in degrees (lon/lat) within which every place `metres` (haversine)
    from `shape` lies, a little more; None where that would reach a pole or cross the
    antimeridian. Such a place differs from its nearest point of `shape` by at most `d_lat` in
    latitude and `d_lon` in longitude."""
    min_x, min_y, max_x, max_y = shape.bounds
    # the haversine is at least R × the latitude difference, and at least
    # 2R·asin(cos φ · sin(Δλ / 2)) for the longitude difference at the box's widest latitude
    d_lat = math.degrees(metres / EARTH_RADIUS_M) * 1.001 + 1e-9
    low, high = min_y - d_lat, max_y + d_lat
    if low <= -90 or high >= 90:
        return None
    reach = math.sin(min(metres / (2 * EARTH_RADIUS_M), math.pi / 2))
    spread = reach / math.cos(math.radians(max(abs(low), abs(high))))
    if spread >= 1:
        return None
    d_lon = math.degrees(2 * math.asin(spread)) * 1.001 + 1e-9
    if min_x - d_lon < -180 or max_x + d_lon > 180:
        return None
    return math.hypot(d_lat, d_lon)
