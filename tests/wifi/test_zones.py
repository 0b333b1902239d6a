"""Which access points are up and what a zone's status is, from entities as stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dalgu.broker.model import LOCATION
from dalgu.ldcontext.core import DEFAULT_VOCAB
from dalgu.wifi import vocabulary as v
from dalgu.wifi.zones import read_access_point, roll_up

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SILENCE = 300.0


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def ap(
    n: int,
    *,
    state: str | None = "up",
    clients: int = 10,
    ago: float = 30.0,
    sdm: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    base = v.SDM if sdm else DEFAULT_VOCAB
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:AccessPoint:{n}",
        "type": [base + "AccessPoint"],
        base + "clientsConnected": [
            {"type": "Property", "value": clients, "observedAt": stamp(ago)}
        ],
        base + "refPointOfInterest": [{"type": "Relationship", "object": "urn:zone"}],
        LOCATION: [
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [128.6, 35.87]}}
        ],
    }
    if state is not None:
        entity[base + "apState"] = [{"type": "Property", "value": state}]
    for term, value in extra.items():  # Dalgu's additions: the default vocabulary's
        entity[DEFAULT_VOCAB + term] = [{"type": "Property", "value": value}]
    return entity


ZONE = {"id": "urn:zone", "type": [v.SDM + "WifiPointOfInterest"]}


def zone_of(*entities: dict[str, Any]):  # type: ignore[no-untyped-def]
    points = [read_access_point(e, 50.0, 40) for e in entities]
    return roll_up(ZONE, points, NOW, SILENCE)


def test_a_zone_without_access_points_has_no_service() -> None:
    zone = zone_of()
    assert (zone.status, zone.up, zone.total, zone.load) == (v.NO_SERVICE, 0, 0, None)


def test_all_up_is_working_and_clients_add_up() -> None:
    zone = zone_of(ap(1, clients=10), ap(2, clients=30, sdm=False))
    assert (zone.status, zone.up, zone.total, zone.clients) == (v.WORKING, 2, 2, 40)
    assert zone.load == pytest.approx(40 / 80)


def test_a_silent_unit_is_down_though_it_last_said_up() -> None:
    zone = zone_of(ap(1, clients=10), ap(2, clients=99, ago=SILENCE + 1))
    assert (zone.status, zone.up, zone.clients) == (v.PARTIAL, 1, 10)
    assert zone.down == ("urn:ngsi-ld:AccessPoint:2",)


def test_a_unit_that_says_it_is_down_is_down() -> None:
    zone = zone_of(ap(1, state="down"), ap(2, state="down", ago=5))
    assert (zone.status, zone.up, zone.clients, zone.load) == (v.FAILURE, 0, 0, None)


def test_a_unit_reporting_only_its_clients_is_up() -> None:
    assert zone_of(ap(1, state=None)).status == v.WORKING


def test_its_own_capacity_and_radius_win() -> None:
    point = read_access_point(ap(1, maxClients=200, coverageRadius=120.0), 50.0, 40)
    assert (point.capacity, point.radius) == (200, 120.0)
    point = read_access_point(ap(1, maxClients="lots", coverageRadius=-3), 50.0, 40)
    assert (point.capacity, point.radius) == (40, 50.0)


def test_the_last_report_is_the_latest_observed_time() -> None:
    entity = ap(1, ago=SILENCE + 100)
    # its state, written now without an observed time, does not hide the silence
    entity[v.SDM + "apState"][0]["modifiedAt"] = stamp(0)
    assert read_access_point(entity, 50.0, 40).silent(NOW, SILENCE)
    entity[v.SDM + "dateLastValueReported"] = [
        {"type": "Property", "value": {"@type": "DateTime", "@value": stamp(10)}}
    ]
    assert not read_access_point(entity, 50.0, 40).silent(NOW, SILENCE)
    # with no observed time at all, the last write stands in
    bare = {
        "id": "urn:ap",
        "type": [v.SDM + "AccessPoint"],
        v.SDM + "apState": [{"type": "Property", "value": "up", "modifiedAt": stamp(20)}],
    }
    assert not read_access_point(bare, 50.0, 40).silent(NOW, SILENCE)
    assert read_access_point({"id": "urn:ap", "type": []}, 50.0, 40).silent(NOW, SILENCE)


def received(entity: dict[str, Any], term: str, seconds_ago: float) -> None:
    """The broker received the attribute's instance `seconds_ago` (its `modifiedAt`)."""
    for iri in (v.SDM + term, DEFAULT_VOCAB + term):
        for instance in entity.get(iri, ()):
            instance["modifiedAt"] = stamp(seconds_ago)


def test_a_report_time_ahead_of_its_receipt_counts_as_received() -> None:
    # a unit whose clock runs a day ahead, last heard from 400 s ago: silent, not up until
    # tomorrow
    entity = ap(1, ago=-86_400)
    received(entity, "clientsConnected", SILENCE + 100)
    received(entity, "apState", SILENCE + 100)
    point = read_access_point(entity, 50.0, 40)
    assert point.last_report == NOW - timedelta(seconds=SILENCE + 100)
    assert point.silent(NOW, SILENCE) and not point.up(NOW, SILENCE)
    assert any("later than its receipt" in p for p in point.problems)
    # a time a little behind its receipt is the unit's own, and no problem
    behind = ap(2, ago=40)
    received(behind, "clientsConnected", 39)
    point = read_access_point(behind, 50.0, 40)
    assert point.last_report == NOW - timedelta(seconds=40) and point.problems == ()


def test_a_date_last_value_reported_ahead_of_its_receipt_counts_as_received() -> None:
    entity = ap(1, ago=SILENCE + 100)
    entity[v.SDM + "dateLastValueReported"] = [
        {"type": "Property", "value": stamp(-86_400), "modifiedAt": stamp(SILENCE + 50)}
    ]
    assert read_access_point(entity, 50.0, 40).silent(NOW, SILENCE)


@pytest.mark.parametrize("state", ["foo", "UP", "", 1])
def test_an_unknown_ap_state_is_not_counted_up(state: Any) -> None:
    zone = zone_of(ap(1, clients=10), ap(2, state=state, clients=30))
    assert (zone.status, zone.up, zone.clients) == (v.PARTIAL, 1, 10)
    point = read_access_point(ap(2, state=state), 50.0, 40)
    assert point.problems and 'neither "up" nor "down"' in point.problems[0]


@pytest.mark.parametrize("clients", [-7, "many", True, 2.5, 10**9])
def test_a_client_count_that_cannot_be_is_ignored(clients: Any) -> None:
    zone = zone_of(ap(1, clients=10), ap(2, clients=clients))
    assert (zone.status, zone.clients) == (v.WORKING, 10)
    assert zone.load == pytest.approx(10 / 80)
    point = read_access_point(ap(2, clients=clients), 50.0, 40)
    assert point.clients == 0 and "is not a count of clients" in point.problems[0]


def test_a_whole_float_client_count_is_a_count() -> None:
    point = read_access_point(ap(1, clients=12.0), 50.0, 40)  # type: ignore[arg-type]
    assert (point.clients, point.problems) == (12, ())


@pytest.mark.parametrize("capacity", [0, -3, "lots", 1.5, False])
def test_a_capacity_that_cannot_be_is_the_default_and_said(capacity: Any) -> None:
    point = read_access_point(ap(1, maxClients=capacity), 50.0, 40)
    assert point.capacity == 40
    assert any(p.startswith("maxClients") for p in point.problems)


@pytest.mark.parametrize("radius", [-5, "far", True])
def test_a_radius_that_cannot_be_is_the_default_and_said(radius: Any) -> None:
    point = read_access_point(ap(1, coverageRadius=radius), 50.0, 40)
    assert point.radius == 50.0
    assert any(p.startswith("coverageRadius") for p in point.problems)
    assert read_access_point(ap(1, coverageRadius=0), 50.0, 40).problems == ()


def test_a_date_last_value_reported_that_is_not_a_date_is_said() -> None:
    entity = ap(1)
    entity[v.SDM + "dateLastValueReported"] = [{"type": "Property", "value": "yesterday"}]
    point = read_access_point(entity, 50.0, 40)
    assert point.problems == ('dateLastValueReported "yesterday" is not a DateTime: ignored',)
    assert not point.silent(NOW, SILENCE)  # its clients' observed time still counts


def test_a_unit_naming_two_zones_is_in_none_and_said() -> None:
    entity = ap(1)
    entity[v.SDM + "refPointOfInterest"] = [
        {"type": "Relationship", "object": ["urn:zone", "urn:other"]}
    ]
    point = read_access_point(entity, 50.0, 40)
    assert (point.zone, point.zones_named) == (None, 2)
    assert "names 2 zones" in point.problems[0]


def test_a_language_property_name_is_read_in_each_language() -> None:
    named = {
        **ZONE,
        v.iris("name")[0]: [
            {"type": "LanguageProperty", "languageMap": {"ko": "동성로", "en": "Dongseong-ro"}}
        ],
    }
    zone = roll_up(named, [], NOW, SILENCE)
    assert zone.name_in("en") == "Dongseong-ro" and zone.name_in("ko") == "동성로"
    assert zone.name_in("fr", "ko") == "동성로"
    assert zone.name == "동성로"  # no untagged text: the first
    plain = {**ZONE, v.iris("name")[0]: [{"type": "Property", "value": "Plaza"}]}
    assert roll_up(plain, [], NOW, SILENCE).name_in("en") == "Plaza"


def test_problems_show_values_as_json_writes_them() -> None:
    """The unit sent JSON: `true` and `"UP"`, not Python's `True` and `'UP'`."""
    point = read_access_point(ap(1, state="UP", clients=True), 50.0, 40)  # type: ignore[arg-type]
    assert point.problems[0].startswith('apState "UP" is neither "up" nor "down"')
    assert point.problems[1].startswith("clientsConnected true is not a count")


RING = [[128.6, 35.8], [128.7, 35.8], [128.6, 35.9], [128.6, 35.8]]


@pytest.mark.parametrize(
    ("location", "said"),
    [
        (None, "no location: left off the coverage map"),
        (
            {"type": "Polygon", "coordinates": [RING]},
            "location is a Polygon, not a Point: left off the coverage map",
        ),
    ],
)
def test_a_unit_the_coverage_map_cannot_place_says_so(
    location: dict[str, Any] | None, said: str
) -> None:
    """docs/wifi.md: a value that cannot be used is not used "and each unit lists why in
    `problems`"; a unit without a Point was left off the coverage map, its `problems` empty."""
    entity = ap(1)
    if location is None:
        del entity[LOCATION]
    else:
        entity[LOCATION] = [{"type": "GeoProperty", "value": location}]
    point = read_access_point(entity, 50.0, 40)
    assert point.position is None and point.problems == (said,)


def test_a_clock_ahead_is_said_once_for_each_attribute_naming_it() -> None:
    entity = ap(1, ago=-86_400)
    entity[v.SDM + "apState"][0]["observedAt"] = stamp(-86_400)
    received(entity, "clientsConnected", 10)
    received(entity, "apState", 10)
    problems = read_access_point(entity, 50.0, 40).problems
    assert [p.split(" ")[0] for p in problems] == ["clientsConnected", "apState"]
    assert all("observedAt" in p and "later than its receipt" in p for p in problems)


def test_a_unit_naming_a_second_zone_in_another_instance_is_in_none_and_said() -> None:
    """NGSI-LD (clause 4.5.5): an attribute may have several instances, told apart by
    `datasetId`; docs/wifi.md: a `refPointOfInterest` naming several zones puts the unit in
    none, listed in `withoutZone`. The unit was put in the zone of the `datasetId` instance."""
    entity = ap(1)
    entity[v.SDM + "refPointOfInterest"] = [
        {"type": "Relationship", "object": "urn:zone:z1", "datasetId": "urn:a"},
        {"type": "Relationship", "object": "urn:zone:z2"},
    ]
    point = read_access_point(entity, 50.0, 40)
    assert (point.zone, point.zones_named) == (None, 2)
    assert "names 2 zones" in point.problems[0]
    entity[v.SDM + "refPointOfInterest"][1]["object"] = "urn:zone:z1"  # the same zone twice
    assert read_access_point(entity, 50.0, 40).zone == "urn:zone:z1"


@pytest.mark.parametrize("radius", [2_000.5, 30_000_000, 1e308])
def test_a_radius_no_wifi_unit_reaches_is_the_default_and_said(radius: float) -> None:
    """A `coverageRadius` of 30,000 km drew a circle round the globe, past both poles."""
    point = read_access_point(ap(1, coverageRadius=radius), 50.0, 40)
    assert point.radius == 50.0
    assert point.problems[0].startswith("coverageRadius") and "2,000 m" in point.problems[0]
    assert read_access_point(ap(1, coverageRadius=2_000), 50.0, 40).radius == 2_000.0
