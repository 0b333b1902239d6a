"""De-identification as pure functions: the grid, geometries inside values, withheld names."""

from __future__ import annotations

import math
from typing import Any

import pytest
from shapely.geometry import shape

from dalgu.opendata.model import Aggregation, Dataset, Policy, Publication
from dalgu.opendata.policy import (
    Release,
    aggregate_rows,
    entity_row,
    pseudonym,
    scrub,
    snap,
    snapped_point,
)
from dalgu.store.base import TemporalEntity

DAEGU = (128.5963, 35.8704)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    dx = (a[0] - b[0]) * 111_320 * math.cos(lat)
    dy = (a[1] - b[1]) * 111_320
    return math.hypot(dx, dy)


@pytest.mark.parametrize("grid", [10.0, 100.0, 500.0, 2000.0])
def test_a_snapped_point_is_within_half_a_cell_diagonal(grid: float) -> None:
    snapped = snap(*DAEGU, grid)
    assert snapped != DAEGU
    assert _metres(snapped, DAEGU) <= grid * math.sqrt(2) / 2 + 0.5


def test_snapping_is_idempotent_and_points_of_one_cell_share_it() -> None:
    snapped = snap(*DAEGU, 500)
    assert snap(*snapped, 500) == snapped
    assert snap(DAEGU[0] + 0.0005, DAEGU[1] - 0.0005, 500) == snapped


def test_scrub_snaps_geometries_nested_in_values_to_points() -> None:
    polygon = {
        "type": "Polygon",
        "coordinates": [[[128.59, 35.87], [128.60, 35.87], [128.60, 35.88], [128.59, 35.87]]],
    }
    value = {"area": polygon, "list": [{"type": "Point", "coordinates": list(DAEGU)}], "n": 3}
    scrubbed = scrub(value, 100)
    assert scrubbed["n"] == 3
    assert scrubbed["area"]["type"] == "Point"
    assert scrubbed["list"][0] == {"type": "Point", "coordinates": list(snap(*DAEGU, 100))}


def test_a_row_never_carries_a_withheld_attribute_even_if_listed() -> None:
    dataset = Dataset(
        id="d",
        name="d",
        title="d",
        publication=Publication("T", ("speed", "driver")),
        policy=Policy(withheld=("driver",)),
    )
    release = Release(dataset, ("urn:x:speed", "urn:x:driver"), None, frozenset(["urn:x:driver"]))
    entity = {
        "id": "urn:ngsi-ld:T:1",
        "urn:x:speed": [{"type": "Property", "value": 40}],
        "urn:x:driver": [{"type": "Property", "value": "Kim"}],
    }
    assert entity_row(entity, release) == {"id": "urn:ngsi-ld:T:1", "speed": 40, "driver": None}


def test_a_typed_literal_is_published_as_its_value() -> None:
    dataset = Dataset(
        id="d", name="d", title="d", publication=Publication("T", ("seen",)), policy=Policy()
    )
    release = Release(dataset, ("urn:x:seen",), None, frozenset())
    stamp = {"@type": "DateTime", "@value": "2026-12-01T10:00:00Z"}
    entity = {"id": "urn:ngsi-ld:T:1", "urn:x:seen": [{"type": "Property", "value": stamp}]}
    assert entity_row(entity, release)["seen"] == "2026-12-01T10:00:00Z"


@pytest.mark.parametrize(
    "point",
    [
        {"type": "Point", "coordinates": [128.5963, 35.8704]},
        {"type": "Point", "coordinates": [128, 35]},  # integers
        {"type": "Point", "coordinates": [-179.99, -89.5, 12.0]},  # with an altitude
        {"type": "Point", "coordinates": []},  # empty: no point
        {"type": "Point", "coordinates": ["128.5", "35.8"]},  # not numbers
        {"type": "Point", "coordinates": [True, 35.8]},
    ],
)
def test_a_point_snaps_as_the_centroid_of_its_shape_does(point: dict[str, Any]) -> None:
    """Points skip shapely; the answer is the one shapely's centroid gives (or None)."""
    try:
        centroid = shape(point).centroid
        expected = None if centroid.is_empty else snap(centroid.x, centroid.y, 100)
    except (ValueError, TypeError, AttributeError, IndexError):
        expected = None
    assert snapped_point(point, 100) == expected


KEY = "ab" * 32


def _trip_release(pseudonymise: bool) -> Release:
    dataset = Dataset(
        id="d",
        name="d",
        title="d",
        publication=Publication("Trip", ("rider", "riders")),
        policy=Policy(pseudonymise_ids=pseudonymise, id_key=KEY),
    )
    return Release(dataset, ("urn:x:rider", "urn:x:riders"), None, frozenset())


TRIP = {
    "id": "urn:ngsi-ld:Trip:1",
    "urn:x:rider": [{"type": "Relationship", "object": "urn:ngsi-ld:Person:kim-minsu"}],
    "urn:x:riders": [
        {"type": "ListRelationship", "objectList": [{"object": "urn:ngsi-ld:Person:lee"}]}
    ],
}


def test_with_pseudonymous_ids_a_relationship_names_its_target_by_its_pseudonym() -> None:
    row = entity_row(TRIP, _trip_release(True))
    assert row == {
        "id": pseudonym("urn:ngsi-ld:Trip:1", KEY),
        "rider": pseudonym("urn:ngsi-ld:Person:kim-minsu", KEY),
        "riders": [{"object": pseudonym("urn:ngsi-ld:Person:lee", KEY)}],
    }


def test_without_pseudonymous_ids_a_relationship_names_its_target() -> None:
    assert entity_row(TRIP, _trip_release(False))["rider"] == "urn:ngsi-ld:Person:kim-minsu"


def test_an_entity_s_periods_are_in_time_order_fractional_seconds_included() -> None:
    """docs/opendata.md: aggregate rows are "ordered by pseudonym (then period)": by time.
    As text, "10:00:00.500Z" < "10:00:00Z" ('.' < 'Z'), and the first period came second."""
    dataset = Dataset(
        id="d",
        name="d",
        title="d",
        publication=Publication("T", ("v",)),
        policy=Policy(aggregation=Aggregation("PT0.5S", ("totalCount",))),
    )
    release = Release(dataset, ("urn:x:v",), None, frozenset())
    spans = [
        ("2026-12-07T10:00:00Z", "2026-12-07T10:00:00.500Z"),
        ("2026-12-07T10:00:00.500Z", "2026-12-07T10:00:01Z"),
        ("2026-12-07T10:00:01Z", "2026-12-07T10:00:01.500Z"),
        ("2026-12-07T10:00:01.500Z", "2026-12-07T10:00:02Z"),
    ]
    history = TemporalEntity("urn:ngsi-ld:T:x", ["T"])
    history.aggregates["urn:x:v"] = {
        "totalCount": [[1 if i == 0 else 0, *span] for i, span in enumerate(spans)]
    }
    rows = aggregate_rows(history, None, release)
    assert [(row["start"], row["end"]) for row in rows] == spans
    assert rows[0]["v_totalCount"] == 1


@pytest.mark.parametrize("grid", [1.0, 100.0, 1000.0, 100_000.0])
@pytest.mark.parametrize("lat", [0.0, 45.0, -17.0, 89.99])
def test_points_on_either_side_of_the_antimeridian_snap_to_one_wgs84_node(
    grid: float, lat: float
) -> None:
    """RFC 7946, 4: a position is WGS 84 longitude and latitude, longitude in [-180, 180]:
    179.9995 snapped to 180.0049 (and -179.9995 to -180.0049), two cells for 79 m."""
    east, west = snap(179.9995, lat, grid), snap(-179.9995, lat, grid)
    for lon, snapped_lat in (east, west):
        assert -180.0 <= lon < 180.0 and -90.0 <= snapped_lat <= 90.0
    if grid >= 1000.0:  # cells much wider than the 111 m between them
        assert east == west
