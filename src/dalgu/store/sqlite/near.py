"""`near` between two points in SQL, without a call into Python per candidate.

Most geometries a city indexes are points (vehicles, sensors, parking spots), and a `near`
query is around a point. The `geo` table keeps a point's coordinates as numbers (`px`, `py`;
NULL for any other geometry), and the distance test is SQL arithmetic with SQLite's math
functions: a registered Python function (`geo_match`) cost ~0.85 µs a candidate, ~23 % of a
`near` query returning 100 of 253 candidates. Other geometries still go to `geo_match`.

The expression is the haversine of `dalgu.query.geo.haversine` written operation for
operation (the same libm functions, the same order of operations, the same constants), so both
give the same double and an entity at the edge of `maxDistance` is inside or outside alike on
either path (`tests/store/test_sqlite_near.py` checks it bit for bit).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from dalgu.query.ast import GeoQuery
from dalgu.query.geo import EARTH_RADIUS_M

# `math.radians` multiplies by this double (CPython: Py_MATH_PI / 180.0)
_RAD = repr(math.pi / 180.0)
_DIAMETER = repr(EARTH_RADIUS_M)

Bind = Callable[[Any], str]  # appends a parameter, returns its placeholder


def point_of(geometry: dict[str, Any]) -> tuple[float, float] | None:
    """(lon, lat) of a GeoJSON Point, None for anything else."""
    if geometry.get("type") != "Point":
        return None
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        return None
    x, y = coordinates[0], coordinates[1]
    if isinstance(x, bool) or isinstance(y, bool):
        return None
    if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
        return None
    return (float(x), float(y))


def shape_point(shape: Any) -> tuple[float, float] | None:
    """(lon, lat) of a shapely Point, None for any other shape."""
    if shape.geom_type != "Point" or shape.is_empty:
        return None
    return (float(shape.x), float(shape.y))


def query_point(geo: GeoQuery) -> tuple[float, float] | None:
    """The point a `near` query is around, when it is one."""
    return shape_point(geo.shape) if geo.georel == "near" else None


def distance_sql(point: tuple[float, float], bind: Bind) -> str:
    """Metres from the row's point (`g.px`, `g.py`) to `point`: `haversine(g.px, g.py, x, y)`.
    Each placeholder is bound where it appears in the text, in the order it appears."""
    x, y = point
    p1 = f"(g.py * {_RAD})"
    p2 = y * (math.pi / 180.0)

    def dp() -> str:
        return f"(({bind(p2)} - {p1}) / 2)"

    def dl() -> str:
        return f"((({bind(x)} - g.px) * {_RAD}) / 2)"

    cos_p2 = math.cos(p2)
    h = f"(sin({dp()}) * sin({dp()}) + cos({p1}) * {bind(cos_p2)} * (sin({dl()}) * sin({dl()})))"
    return f"(2 * {_DIAMETER} * asin(min(1.0, sqrt({h}))))"


def near_test(geo: GeoQuery, bind: Bind, fallback: Callable[[], str]) -> str:
    """The SQL test of a geo-query on row `g`: point to point in SQL, anything else through
    `fallback()` (the `geo_match` call)."""
    point = query_point(geo)
    if point is None:
        return fallback()
    tests = []
    if geo.max_distance is not None:
        tests.append(f"{distance_sql(point, bind)} <= {bind(geo.max_distance)}")
    if geo.min_distance is not None:
        tests.append(f"{distance_sql(point, bind)} >= {bind(geo.min_distance)}")
    inside = " AND ".join(tests) if tests else "1"
    # the fallback's parameters come after the point's in the text: bound in that order
    return f"(CASE WHEN g.px IS NOT NULL THEN ({inside}) ELSE {fallback()} END)"


def distance_or(point: tuple[float, float] | None, bind: Bind, fallback: Callable[[], str]) -> str:
    """Metres from row `g`'s geometry to the query's: in SQL between points, else
    `fallback()` (the `geo_distance` call)."""
    if point is None:
        return fallback()
    return f"(CASE WHEN g.px IS NOT NULL THEN {distance_sql(point, bind)} ELSE {fallback()} END)"
