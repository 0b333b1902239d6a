"""The map's projection: north up, east right, the city's shape kept, inside the view box."""

from __future__ import annotations

import itertools
import math

import pytest
from starlette.testclient import TestClient

from dalgu.dashboard.citymap import HEIGHT, PADDING, WIDTH, draw
from dalgu.dashboard.overview import Place
from tests.dashboard.test_dashboard import create, page, point


def place(name: str, lon: float, lat: float, kind: str = "Spot") -> Place:
    return Place(f"urn:ngsi-ld:{kind}:{name}", kind, name, lon, lat, ())


def test_north_is_up_and_east_is_right_inside_the_view_box() -> None:
    drawn = draw([place("sw", 128.5, 35.8), place("ne", 128.7, 35.9), place("mid", 128.6, 35.85)])
    by_name = {m.place.label: m for m in drawn.markers}
    assert by_name["ne"].x > by_name["mid"].x > by_name["sw"].x
    assert by_name["ne"].y < by_name["mid"].y < by_name["sw"].y
    for m in drawn.markers:
        assert PADDING <= m.x <= WIDTH - PADDING and PADDING <= m.y <= HEIGHT - PADDING
    assert drawn.bounds == (35.8, 128.5, 35.9, 128.7)


def test_distances_keep_their_proportions_at_the_citys_latitude() -> None:
    # 0.1 degree east at 35.85 N is cos(35.85) as long as 0.1 degree north
    drawn = draw([place("o", 128.5, 35.8), place("e", 128.6, 35.8), place("n", 128.5, 35.9)])
    o, e, n = (next(m for m in drawn.markers if m.place.label == k) for k in ("o", "e", "n"))
    assert (e.x - o.x) / (o.y - n.y) == pytest.approx(math.cos(math.radians(35.85)), rel=0.01)


def test_one_place_is_drawn_in_the_middle() -> None:
    (only,) = draw([place("a", 128.6, 35.87)]).markers
    assert (only.x, only.y) == (WIDTH / 2, HEIGHT / 2)


def test_types_get_their_own_style_most_numerous_first() -> None:
    spots = [place(f"s{i}", 128.6, 35.8 + i / 100) for i in range(3)]
    drawn = draw([place("a", 128.6, 35.87, "Bench"), *spots])
    assert [(name, count) for name, _, count in drawn.legend] == [("Spot", 3), ("Bench", 1)]
    styles = {m.place.type: m.style for m in drawn.markers}
    assert styles["Spot"] != styles["Bench"]
    assert draw([]).markers == () and draw([]).bounds is None


def test_rarer_types_are_drawn_over_the_numerous_ones() -> None:
    # the demo's traffic counters stand where its devices do: drawn under the devices, the
    # counters could not be seen
    devices = [place(f"d{i}", 128.6, 35.8 + i / 100, "Device") for i in range(3)]
    counter = place("c", 128.6, 35.8, "TrafficFlowObserved")
    drawn = draw([counter, *devices])
    assert [m.place.type for m in drawn.markers] == ["Device"] * 3 + ["TrafficFlowObserved"]


def test_readings_show_units_and_times_as_a_reader_writes_them(client: TestClient) -> None:
    """An outside test: `pm10: 47.1 GQ` (a UN/CEFACT code) and `dateObserved` in UTC ISO 8601
    on a page that gives every other time in Daegu's."""
    create(
        client,
        {
            "id": "urn:ngsi-ld:AirQualityObserved:1",
            "type": "AirQualityObserved",
            "dateObserved": {"type": "Property", "value": "2026-12-07T11:39:38Z"},
            "pm10": {"type": "Property", "value": 47.1, "unitCode": "GQ"},
            "so2": {"type": "Property", "value": 3, "unitCode": "XYZ"},
            "location": point(128.6, 35.87),
        },
    )
    (row,) = page(client, "?lang=en").by_id("map").first("table").rows()  # type: ignore[union-attr]
    assert row[4] == "dateObserved: 2026-12-07 20:39:38 KST; pm10: 47.1 µg/m³; so2: 3 XYZ"


def test_places_either_side_of_the_antimeridian_are_drawn_side_by_side() -> None:
    """Four units of one Fiji zone within ~210 m, two each side of 180°, were drawn at the
    map's two edges (x 24 and 776), each pair on one pixel: the map is a picture of the
    places, and ~100 m is not the width of the Earth."""
    lons = (179.9990, 179.9995, -179.9995, -179.9990)
    drawn = draw([place(f"ap{i}", lon, -16.8) for i, lon in enumerate(lons)])
    xs = [next(m.x for m in drawn.markers if m.place.label == f"ap{i}") for i in range(4)]
    assert xs == sorted(xs)  # west to east across the antimeridian
    gaps = [b - a for a, b in itertools.pairwise(xs)]
    # 0.0005, 0.001 (across 180) and 0.0005 degrees apart
    assert gaps[1] == pytest.approx(2 * gaps[0], rel=0.05)
    assert gaps[2] == pytest.approx(gaps[0], rel=0.05)
    assert drawn.bounds == (-16.8, 179.999, -16.8, -179.999)  # RFC 7946 5.2: west > east


def test_places_round_the_globe_are_drawn_from_180_west_to_180_east() -> None:
    drawn = draw([place("w", -170.0, 0.0), place("e", 170.0, 0.0), place("m", 0.0, 0.0)])
    by_name = {m.place.label: m.x for m in drawn.markers}
    assert by_name["w"] < by_name["m"] < by_name["e"]
    assert drawn.bounds == (0.0, -170.0, 0.0, 170.0)


def test_a_reading_says_when_it_was_observed(client: TestClient) -> None:
    """An outside test: one page showed a zone's clients as 10, 23, 48 (the Wi-Fi table,
    live) and 17, 17, 17 (the map's table, the value the sweep last wrote) with nothing to tell
    the two apart; a reading with an `observedAt` now says when it was so."""
    create(
        client,
        {
            "id": "urn:ngsi-ld:WifiPointOfInterest:station",
            "type": "WifiPointOfInterest",
            "clientsConnected": {
                "type": "Property",
                "value": 17,
                "observedAt": "2026-12-07T11:39:38Z",
            },
            "location": point(128.6, 35.87),
        },
    )
    (row,) = page(client, "?lang=en").by_id("map").first("table").rows()  # type: ignore[union-attr]
    assert row[4] == "clientsConnected: 17 (2026-12-07 20:39:38 KST)"
