"""Device profiles and the virtual-device fleet, run against a live Dalgu over MQTT, HTTP and
CoAP (the gateway on free ports of 127.0.0.1, an embedded MQTT broker)."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from dalgu.cli.app import app as cli
from dalgu.devices.provisioning import parse_groups
from dalgu.errors import BadRequestData
from dalgu.settings import Settings
from dalgu.testbed.profile import load_profile, parse_profile, shipped_profiles
from dalgu.testbed.simulator import (
    Endpoints,
    Faults,
    FleetReport,
    VirtualDevice,
    provision,
    run_fleet,
)
from tests.ports import free_port, serving

E = "/ngsi-ld/v1/entities"


def test_shipped_profiles_load_and_provision() -> None:
    names = shipped_profiles()
    assert {"air-quality", "parking-spot", "traffic-counter", "wifi-access-point"} <= set(names)
    assert {"vital-signs-band", "vehicle-telematics"} <= set(names)
    for name in names:
        profile = load_profile(name)
        (group,) = parse_groups({"services": [profile.to_group("k")]})
        assert group.entity_type == profile.entity_type
        assert len(group.attributes) == len(profile.measures)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: Bad Name\nentity_type: T\nmeasures: [{object_id: a, name: a}]", "name"),
        ("name: x\nentity_type: T\nmeasures: []", "measures"),
        ("name: x\nentity_type: T\nmeasures: [{object_id: a, name: a, min: 5, max: 1}]", "min"),
        ("name: x\nentity_type: T\nmeasures: [{object_id: a, name: a, colour: red}]", "colour"),
        ("[unclosed", "neither YAML nor JSON"),
    ],
)
def test_bad_profiles_are_refused(text: str, message: str) -> None:
    with pytest.raises(BadRequestData, match=message):
        parse_profile(text)
    with pytest.raises(BadRequestData, match="no profile"):
        load_profile("no-such-profile")


def test_virtual_devices_stay_in_range_and_are_reproducible() -> None:
    profile = load_profile("air-quality")
    one = VirtualDevice("d1", profile, random.Random(7), skew=0)
    two = VirtualDevice("d1", profile, random.Random(7), skew=0)
    for _ in range(200):
        values = one.values()
        assert values == two.values()
        for spec in profile.measures:
            assert spec.min is not None and spec.max is not None
            assert spec.min <= values[spec.object_id] <= spec.max
    ul = one.payload(0.0).decode()
    assert ul.startswith("1970-01-01T00:00:00.000Z|p10|")
    json_device = VirtualDevice("d2", load_profile("parking-spot"), random.Random(1), skew=60)
    document = orjson.loads(json_device.payload(0.0))
    assert document["TimeInstant"] == "1970-01-01T00:01:00.000Z"
    assert document["s"] in ("free", "occupied", "closed", "unknown")


@pytest.fixture
def live(settings: Settings) -> Iterator[tuple[TestClient, Endpoints]]:
    def ports() -> dict[str, Any]:
        return {
            "mqtt_broker": "embedded",
            "mqtt_port": free_port(),
            "iot_north_port": free_port(),
            "iot_south_port": free_port(),
            "coap_port": free_port(socket.SOCK_DGRAM),
        }

    with serving(settings, ports) as (client, configured):
        yield (
            client,
            Endpoints(
                mqtt_port=configured.mqtt_port,
                http_port=configured.iot_south_port,
                coap_port=configured.coap_port,
                north_port=configured.iot_north_port,
            ),
        )


@pytest.mark.parametrize("transport", ["mqtt", "http", "coap"])
def test_a_fleet_reaches_the_broker_over_each_transport(
    live: tuple[TestClient, Endpoints], transport: str
) -> None:
    client, endpoints = live
    profile = load_profile("traffic-counter")
    apikey = f"fleet-{transport}"

    async def run() -> FleetReport:
        await provision(profile, apikey, endpoints, "")
        return await run_fleet(
            profile,
            apikey=apikey,
            devices=5,
            rate=50,
            duration=0.6,
            transport=transport,
            endpoints=endpoints,
        )

    report = asyncio.run(run())
    assert report.sent == 30 and report.failed == 0
    deadline = time.monotonic() + 10
    while True:
        found = client.get(E, params={"type": "TrafficFlowObserved", "count": "true"})
        if found.headers.get("ngsild-results-count") == "5":
            break
        assert time.monotonic() < deadline, found.headers
        time.sleep(0.05)
    entity = found.json()[0]
    assert 0 <= entity["intensity"]["value"] <= 3000
    assert entity["intensity"]["unitCode"] == "C62"
    assert "observedAt" in entity["intensity"]


def test_a_telematics_fleet_stores_the_heart_sensors_intervals_as_lists(
    live: tuple[TestClient, Endpoints],
) -> None:
    client, endpoints = live
    profile = load_profile("vehicle-telematics")

    async def run() -> FleetReport:
        await provision(profile, "fleet-cars", endpoints, "")
        return await run_fleet(
            profile,
            apikey="fleet-cars",
            devices=2,
            rate=20,
            duration=1.0,
            transport="mqtt",
            endpoints=endpoints,
        )

    report = asyncio.run(run())
    assert report.sent == 20 and report.failed == 0
    deadline = time.monotonic() + 10
    while True:
        query = {"type": "Vehicle", "attrs": "driverRRIntervals,location"}
        cars = client.get(E, params=query).json()
        if len(cars) == 2 and all("driverRRIntervals" in car for car in cars):
            break
        assert time.monotonic() < deadline, cars
        time.sleep(0.05)
    for car in cars:
        listed = car["driverRRIntervals"]
        assert listed["type"] == "ListProperty"
        assert listed["valueList"] and all(250 <= x <= 2500 for x in listed["valueList"])
        lon, lat = car["location"]["value"]["coordinates"]  # sent "lon,lat": in Daegu
        assert 128.5 < lon < 128.7 and 35.8 < lat < 35.95


def test_faults_are_counted_and_refused(live: tuple[TestClient, Endpoints]) -> None:
    _, endpoints = live
    profile = load_profile("wifi-access-point")

    async def run() -> FleetReport:
        await provision(profile, "faulty", endpoints, "")
        return await run_fleet(
            profile,
            apikey="faulty",
            devices=4,
            rate=100,
            duration=0.5,
            transport="http",
            endpoints=endpoints,
            faults=Faults(bad_payload=0.3, dropout=0.05, dropout_seconds=60),
            seed=3,
        )

    report = asyncio.run(run())
    assert report.malformed > 0
    assert report.failed == report.malformed
    assert report.silent > 0
    assert "HTTP 400" in " ".join(report.errors)


def test_simulate_command_line(live: tuple[TestClient, Endpoints]) -> None:
    client, endpoints = live
    result = CliRunner().invoke(
        cli,
        [
            "simulate",
            "--profile",
            "air-quality",
            "--devices",
            "3",
            "--rate",
            "30",
            "--duration",
            "0.5",
            "--transport",
            "http",
            "--apikey",
            "cli-fleet",
            "--http-port",
            str(endpoints.http_port),
            "--north-port",
            str(endpoints.north_port),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "air-quality: 3 virtual devices" in result.output
    found = client.get(E, params={"type": "AirQualityObserved", "count": "true"})
    assert found.headers["ngsild-results-count"] == "3"
    bad = CliRunner().invoke(cli, ["simulate", "--profile", "nothing-like-this"])
    assert bad.exit_code != 0 and "no profile" in bad.output
