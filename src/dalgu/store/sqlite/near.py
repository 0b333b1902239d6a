"""`near` between two points in SQL, without a call into Python per candidate.

Most geometries a city indexes are points (vehicles, sensors, parking spots), and a `near`
query is around a point. The `geo` table, and the history's `instances` for the temporal API,
keep a point's coordinates as numbers (`px`, `py`; NULL for any other geometry), and the
distance test is SQL arithmetic with SQLite's math functions: a registered Python function
(`geo_match`) cost ~0.85 µs a candidate, ~23 % of a `near` query returning 100 of 253
candidates. Other geometries still go to `geo_match`. The history has no spatial index: there
a box of latitudes and longitudes that holds every point within `maxDistance` is tested first
(`boxed`), two comparisons that spare most instances the trigonometry.

The expression is the haversine of `dalgu.query.geo.haversine` written operation for
operation (the same libm functions, the same order of operations, the same constants), so both
give the same double and an entity at the edge of `maxDistance` is inside or outside alike on
either path (`tests/store/test_sqlite_near.py` checks it bit for bit).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import shapely

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


def point_columns(geometry: dict[str, Any] | None) -> tuple[float | None, float | None]:
    """The `px`, `py` columns of a stored geometry: a Point's coordinates, NULL for the rest."""
    point = None if geometry is None else point_of(geometry)
    return (None, None) if point is None else point


def shape_point(shape: Any) -> tuple[float, float] | None:
    """(lon, lat) of a shapely Point, None for any other shape."""
    if shape.geom_type != "Point" or shape.is_empty:
        return None
    return (float(shape.x), float(shape.y))


def query_point(geo: GeoQuery) -> tuple[float, float] | None:
    """The point a `near` query is around, when it is one."""
    return shape_point(geo.shape) if geo.georel == "near" else None


def distance_sql(point: tuple[float, float], bind: Bind, row: str = "g") -> str:
    """Metres from the row's point (`g.px`, `g.py`; `row` names the row) to `point`:
    `haversine(g.px, g.py, x, y)`. Each placeholder is bound where it appears in the text, in
    the order it appears."""
    x, y = point
    p1 = f"({row}.py * {_RAD})"
    p2 = y * (math.pi / 180.0)

    def dp() -> str:
        return f"(({bind(p2)} - {p1}) / 2)"

    def dl() -> str:
        return f"((({bind(x)} - {row}.px) * {_RAD}) / 2)"

    cos_p2 = math.cos(p2)
    h = f"(sin({dp()}) * sin({dp()}) + cos({p1}) * {bind(cos_p2)} * (sin({dl()}) * sin({dl()})))"
    return f"(2 * {_DIAMETER} * asin(min(1.0, sqrt({h}))))"


def box_sql(point: tuple[float, float], metres: float, bind: Bind, row: str = "g") -> str:
    """A condition every point (`row.px`, `row.py`) within `metres` of `point` meets (and most
    farther ones fail): its latitude within metres / R of the point's, its longitude within
    the widest difference the haversine allows at those latitudes. No longitude bound where
    the box would reach a pole or cross the antimeridian. Loose by a margin: the distance
    test decides."""
    x, y = point
    angle = metres / EARTH_RADIUS_M  # radians of a great circle
    dlat = math.degrees(angle) * 1.001 + 1e-9
    tests = [f"{row}.py BETWEEN {bind(y - dlat)} AND {bind(y + dlat)}"]
    widest = abs(y) + dlat
    if widest < 89.0:
        hav = math.sin(angle / 2) ** 2
        ratio = hav / (math.cos(math.radians(y)) * math.cos(math.radians(widest)))
        if ratio < 1.0:
            dlon = math.degrees(2 * math.asin(math.sqrt(ratio))) * 1.001 + 1e-9
            if x - dlon >= -180.0 and x + dlon <= 180.0:
                tests.append(f"{row}.px BETWEEN {bind(x - dlon)} AND {bind(x + dlon)}")
    return " AND ".join(tests)


def near_test(
    geo: GeoQuery, bind: Bind, fallback: Callable[[], str], row: str = "g", boxed: bool = False
) -> str:
    """The SQL test of a geo-query on row `g` (or `row`): point to point in SQL, anything else
    through `fallback()` (the `geo_match` call); `boxed` tests `box_sql` first."""
    point = query_point(geo)
    if point is None:
        return fallback()
    tests = []
    if boxed and geo.max_distance is not None:
        tests.append(box_sql(point, geo.max_distance, bind, row))
    if geo.max_distance is not None:
        tests.append(f"{distance_sql(point, bind, row)} <= {bind(geo.max_distance)}")
    if geo.min_distance is not None:
        tests.append(f"{distance_sql(point, bind, row)} >= {bind(geo.min_distance)}")
    inside = " AND ".join(tests) if tests else "1"
    # the fallback's parameters come after the point's in the text: bound in that order
    return f"(CASE WHEN {row}.px IS NOT NULL THEN ({inside}) ELSE {fallback()} END)"


def geo_test(
    geo: GeoQuery, bind: Bind, row: str = "g", boxed: bool = False, rtree: str | None = None
) -> str:
    """The SQL test of a geo-query on the geometry of row `row`: `near_test`, falling back to
    the registered `geo_match` for what is not between points; a point `within` or
    `intersects` the query's shape by `point_test`. `rtree`: the alias of the geometry's
    R*Tree row, when the statement has it: a geometry whose box is inside a rectangle's
    interior is `within` and `intersects` it without `geo_match` (the R*Tree's boxes are
    rounded outwards: the geometry is inside too)."""

    def general() -> str:
        wkb = shapely.to_wkb(geo.shape)
        marks = ", ".join(bind(v) for v in (geo.georel, wkb, geo.max_distance, geo.min_distance))
        return f"geo_match({marks}, {row}.geometry)"

    def match() -> str:
        if geo.georel not in POINT_RELATIONS:
            return general()
        point = point_test(geo, bind, row)  # its parameters come first in the text
        box = rectangle(geo.shape) if rtree is not None else None
        if box is None:
            return f"(CASE WHEN {row}.px IS NOT NULL THEN {point} ELSE {general()} END)"
        minx, miny, maxx, maxy = box
        inside = (
            f"{rtree}.minx > {bind(minx)} AND {rtree}.maxx < {bind(maxx)} "
            f"AND {rtree}.miny > {bind(miny)} AND {rtree}.maxy < {bind(maxy)}"
        )
        return (
            f"(CASE WHEN {row}.px IS NOT NULL THEN {point} "
            f"WHEN {inside} THEN 1 ELSE {general()} END)"
        )

    return near_test(geo, bind, match, row, boxed)


#: georels whose test of a point needs no shape of it (`point_test`)
POINT_RELATIONS = ("within", "intersects")


def point_test(geo: GeoQuery, bind: Bind, row: str = "g") -> str:
    """Whether the point (`row.px`, `row.py`) is `within` (in the interior of) or `intersects`
    (in the closure of) the query's shape, as shapely answers for the point's shape. A shape
    that is a rectangle along the axes is four comparisons in SQL (its edges are exact in
    floating point: the interior is between them, the closure up to them); any other is one
    call of `geo_point_match` (a prepared shape's `contains_xy` or `intersects_xy`), without
    building a shape of the point: 100,000 points within a city's rectangle cost 4.4 s through
    `geo_match` (perf-1)."""
    box = rectangle(geo.shape)
    if box is None:
        marks = ", ".join(bind(v) for v in (geo.georel, shapely.to_wkb(geo.shape)))
        return f"geo_point_match({marks}, {row}.px, {row}.py)"
    minx, miny, maxx, maxy = box
    lt, gt = ("<", ">") if geo.georel == "within" else ("<=", ">=")
    return (
        f"({row}.px {gt} {bind(minx)} AND {row}.px {lt} {bind(maxx)} "
        f"AND {row}.py {gt} {bind(miny)} AND {row}.py {lt} {bind(maxy)})"
    )


def rectangle(shape: Any) -> tuple[float, float, float, float] | None:
    """(minx, miny, maxx, maxy) of a polygon that is a rectangle along the axes (four corners,
    no hole, of some area), None for any other shape."""
    if shape.geom_type != "Polygon" or shape.is_empty or len(shape.interiors):
        return None
    ring = [(float(c[0]), float(c[1])) for c in shape.exterior.coords]
    if len(ring) != 5 or ring[0] != ring[4]:
        return None
    minx, miny, maxx, maxy = (float(b) for b in shape.bounds)
    if not (minx < maxx and miny < maxy):
        return None
    if set(ring) != {(minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy)}:
        return None
    # each side along an axis: consecutive corners share one coordinate (not a bow tie)
    if not all((a[0] == b[0]) != (a[1] == b[1]) for a, b in itertools.pairwise(ring)):
        return None
    return (minx, miny, maxx, maxy)


def distance_or(point: tuple[float, float] | None, bind: Bind, fallback: Callable[[], str]) -> str:
    """Metres from row `g`'s geometry to the query's: in SQL between points, else
    `fallback()` (the `geo_distance` call)."""
    if point is None:
        return fallback()
    return f"(CASE WHEN g.px IS NOT NULL THEN {distance_sql(point, bind)} ELSE {fallback()} END)"
