"""Coverage circles in metres, merged per zone, as GeoJSON."""

from __future__ import annotations

import math
from datetime import UTC, datetime

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
