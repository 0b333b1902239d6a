"""Which access points are up and what a zone's status is, from entities as stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

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
