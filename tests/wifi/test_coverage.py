"""Coverage circles in metres, merged per zone, as GeoJSON."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from shapely.geometry import shape

from dalgu.wifi.coverage import METRES_PER_DEGREE, circle, coverage
from dalgu.wifi.zones import AccessPoint, Zone

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LAT = 35.87


def point(n: int, lon: float, radius: float = 50.0, up: bool = True) -> AccessPoint:
    return AccessPoint(
        f"urn:ap:{n}", "urn:zone", "up" if up else "down", 5, 40, radius, (lon, LAT), NOW
    )


def square_metres(area_in_degrees: float) -> float:
    return area_in_degrees * METRES_PER_DEGREE**2 * math.cos(math.radians(LAT))


def test_a_circle_has_its_radius_in_metres() -> None:
    drawn = circle(128.6, LAT, 100.0)
    assert square_metres(drawn.area) == pytest.approx(math.pi * 100.0**2, rel=0.01)
    east = max(x for x, _ in drawn.exterior.coords)
    metres = (east - 128.6) * METRES_PER_DEGREE * math.cos(math.radians(LAT))
    assert metres == pytest.approx(100.0, rel=0.001)


def test_a_zones_circles_are_merged_and_units_down_left_out() -> None:
    step = 60.0 / (METRES_PER_DEGREE * math.cos(math.radians(LAT)))  # 60 m east
    points = [point(1, 128.6), point(2, 128.6 + step), point(3, 128.6 + 10 * step, up=False)]
    zone = Zone("urn:zone", "Plaza", "workingPartially", 2, 3, 10, 0.125, ("urn:ap:3",), None)
    features = coverage([zone], points, NOW, 300.0)["features"]
    (area,) = [f for f in features if f["properties"]["kind"] == "coverage"]
    assert area["properties"]["wifiStatus"] == "workingPartially"
    merged = shape(area["geometry"])
    two = 2 * math.pi * 50.0**2
    assert square_metres(merged.area) < two  # they overlap
    assert square_metres(merged.area) > two * 0.7
    units = {
        f["id"]: f["properties"]["apState"]
        for f in features
        if f["properties"]["kind"] == "accessPoint"
    }
    assert units == {"urn:ap:1": "up", "urn:ap:2": "up", "urn:ap:3": "down"}


def _positions(geometry: dict[str, Any]) -> list[list[float]]:
    coordinates = geometry["coordinates"]
    rings = [coordinates] if geometry["type"] == "Polygon" else coordinates
    return [position for polygon in rings for ring in polygon for position in ring]


def _zone_at(lon: float, lat: float) -> list[Any]:
    zone = Zone("urn:zone", "Z", "working", 1, 1, 5, 0.1, (), None)
    return [zone, AccessPoint("urn:ap:1", "urn:zone", "up", 5, 40, 0.0, (lon, lat), NOW)]


@pytest.mark.parametrize(
    ("lon", "lat", "radius"),
    [
        (0.0, 89.9999, 100.0),
        (90.0, 90.0, 100.0),
        (45.0, -90.0, 1000.0),
        (179.9999, -17.0, 500.0),
        (-180.0, 0.0, 2000.0),
        (180.0, 89.99, 2000.0),
        (128.6, LAT, 100.0),
    ],
)
def test_every_position_of_a_coverage_is_wgs84_and_its_area_a_circle_s(
    lon: float, lat: float, radius: float
) -> None:
    """RFC 7946, 4: positions are WGS 84 longitude and latitude, and 3.1.9: a geometry that
    crosses the antimeridian SHOULD be cut in two. Circles near the poles spanned longitudes
    of ±9,000 degrees and latitudes past ±90; across the antimeridian, past ±180."""
    zone, unit = _zone_at(lon, lat)
    unit = AccessPoint(unit.id, unit.zone, "up", 5, 40, radius, (lon, lat), NOW)
    (area,) = [
        f for f in coverage([zone], [unit], NOW, 300.0)["features"]
        if f["properties"]["kind"] == "coverage"
    ]  # fmt: skip
    positions = _positions(area["geometry"])
    assert all(-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0 for x, y in positions)
    assert all(len(repr(c).split(".")[-1]) <= 7 for p in positions for c in p)  # RFC 7946 11.2
    drawn = shape(area["geometry"])
    assert drawn.is_valid
    if abs(lat) < 80:  # degrees squared are square metres there as at LAT
        metres = drawn.area * METRES_PER_DEGREE**2 * math.cos(math.radians(lat))
        assert metres == pytest.approx(math.pi * radius**2, rel=0.02)


def test_two_units_either_side_of_the_antimeridian_make_one_area_cut_there() -> None:
    zone = Zone("urn:zone", "Fiji", "working", 2, 2, 10, 0.1, (), None)
    units = [
        AccessPoint(f"urn:ap:{n}", "urn:zone", "up", 5, 40, 500.0, (lon, -17.0), NOW)
        for n, lon in ((1, 179.9999), (2, -179.9999))
    ]
    (area,) = [
        f for f in coverage([zone], units, NOW, 300.0)["features"]
        if f["properties"]["kind"] == "coverage"
    ]  # fmt: skip
    assert area["geometry"]["type"] == "MultiPolygon"
    parts = [shape({"type": "Polygon", "coordinates": p}) for p in area["geometry"]["coordinates"]]
    assert len(parts) == 2  # the two circles merged on each side
    west, east = sorted((p.bounds[0], p.bounds[2]) for p in parts)
    assert west[0] == -180.0 and west[1] < -179.99
    assert east[0] > 179.99 and east[1] == 180.0


def test_every_zone_has_a_feature_and_a_zone_that_does_not_exist_none() -> None:
    """docs/wifi.md: "one feature per zone": a dark zone is on the map at its location; a unit
    naming a zone that does not exist (listed in `withoutZone`) drew a zone named null."""
    dark = Zone("urn:dark", "Dark", "totalFailure", 0, 1, 0, None, ("urn:ap:2",), (128.6, LAT))
    empty = Zone("urn:empty", "Empty", "noService", 0, 0, 0, None, (), None)
    units = [
        AccessPoint("urn:ap:1", "urn:nowhere", "up", 5, 40, 50.0, (128.6, LAT), NOW),
        AccessPoint("urn:ap:2", "urn:dark", "up", 5, 40, 50.0, (128.6, LAT), None),
    ]
    features = coverage([dark, empty], units, NOW, 300.0)["features"]
    areas = {f["id"]: f for f in features if f["properties"]["kind"] == "coverage"}
    assert set(areas) == {"urn:dark", "urn:empty"}
    assert areas["urn:dark"]["geometry"] == {"type": "Point", "coordinates": [128.6, LAT]}
    assert areas["urn:dark"]["properties"]["wifiStatus"] == "totalFailure"
    assert areas["urn:empty"]["geometry"] is None
    silent = next(f for f in features if f["id"] == "urn:ap:2")["properties"]
    assert (silent["up"], silent["apState"]) == (False, "up")  # as /wifi/zones tells them apart
