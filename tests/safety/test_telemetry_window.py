"""The telemetry window: a second of 10 Hz samples in one measure group, read back sample by
sample with each sample's own time."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.errors import BadRequestData
from dalgu.gateway.jsonpayload import parse_json_measures
from dalgu.safety import signals as vss
from dalgu.safety.fleet import on_the_wire
from dalgu.safety.generator import generate_scenario
from dalgu.safety.service import config_groups
from dalgu.safety.telemetry_window import SAMPLES, window_group, window_samples
from dalgu.settings import Settings


def test_a_window_carries_the_newest_values_on_top_and_every_sample_with_its_time() -> None:
    samples = [
        (100.0 + k / 10, {vss.SPEED: 70.0 + k, vss.STEERING: -0.5 * k, vss.LANE_WARNING: k == 9})
        for k in range(10)
    ]
    group = window_group(samples)
    assert group[vss.SPEED] == 79.0 and group[vss.LANE_WARNING] is True
    assert group["t"] == pytest.approx(100.9)
    assert group[SAMPLES]["t"] == [-900, -800, -700, -600, -500, -400, -300, -200, -100, 0]
    values = {k: v for k, v in group.items() if k != "t"}
    back = window_samples(values, 100.9)
    assert back is not None
    assert [round(t, 3) for t, _ in back] == [round(t, 3) for t, _ in samples]
    assert [s for _, s in back] == [s for _, s in samples]


def test_a_signal_sent_once_a_second_is_on_top_with_its_value_in_the_window() -> None:
    # the car's heart-rate sensor and the position ride in one sample of the ten
    samples = [(100.0 + k / 10, {vss.SPEED: 70.0 + k}) for k in range(10)]
    samples[3][1].update({vss.DRIVER_HEART_RATE: 74.0, vss.DRIVER_HEART_RATE_QUALITY: 0.8})
    group = window_group(samples)
    assert group[vss.DRIVER_HEART_RATE] == 74.0 and group[vss.DRIVER_HEART_RATE_QUALITY] == 0.8
    assert group[vss.SPEED] == 79.0
    assert group[SAMPLES][vss.DRIVER_HEART_RATE] == [None, None, None, 74.0] + [None] * 6


def test_a_sample_lacking_a_signal_has_null_in_its_column_and_lacks_it_when_read() -> None:
    group = window_group(
        [(1.0, {vss.SPEED: 50.0, vss.EYES_ON_ROAD: True}), (1.1, {vss.SPEED: 51.0})]
    )
    assert group[SAMPLES][vss.EYES_ON_ROAD] == [True, None]
    back = window_samples(group, 1.1)
    assert back is not None and back[1][1] == {vss.SPEED: 51.0}


def test_a_group_without_a_window_is_none_and_a_malformed_window_is_refused() -> None:
    assert window_samples({vss.SPEED: 50.0}, 1.0) is None
    for bad in (
        [1, 2],
        {"t": []},
        {"t": [0, 100], vss.SPEED: [1.0]},
        {"t": ["0"], vss.SPEED: [1.0]},
        {"t": [True], vss.SPEED: [1.0]},
    ):
        with pytest.raises(BadRequestData):
            window_samples({SAMPLES: bad}, 1.0)


def test_a_drive_on_the_wire_as_windows_sends_one_telemetry_group_a_second() -> None:
    scenario = generate_scenario(7, duration=900)
    plain = on_the_wire("car", scenario)
    windowed = on_the_wire("car", scenario, windows=True)
    assert [len(car) for car, _ in windowed.seconds[1:20]] == [1] * 19
    for (car, band), (window, band_again) in zip(plain.seconds, windowed.seconds, strict=True):
        assert band == band_again
        if not car:
            assert window == []
            continue
        [group] = window
        read = window_samples(group, group["t"])
        assert read is not None
        assert [round(t, 3) for t, _ in read] == [round(g["t"], 3) for g in car]
        assert [s for _, s in read] == [{k: v for k, v in g.items() if k != "t"} for g in car]


def provision_and_send(
    client: TestClient, groups: dict[str, Any], apikey: str, device: str, group: dict[str, Any]
) -> dict[str, Any]:
    """Provision `groups`, hand `group` to the device service as `device` sent it over HTTP,
    and return the vehicle entity it stored."""
    assert client.post("/iot/services", json=groups).status_code == 201
    devices = client.app.state.dalgu.devices  # type: ignore[attr-defined]

    async def send() -> None:
        await devices.receive(
            "http", apikey, device, lambda: parse_json_measures(orjson.dumps(group))
        )

    client.portal.call(send)  # type: ignore[union-attr]
    car: dict[str, Any] = client.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:{device}").json()
    return car


def test_a_config_group_keeping_windows_stores_the_window_as_json_beside_the_newest_values(
    settings: Settings,
) -> None:
    group = window_group(
        [(10.0 + k / 10, {vss.SPEED: 60.0 + k, vss.STEERING: 0.1 * k}) for k in range(10)]
    )
    group.pop("t")
    group["TimeInstant"] = "2026-12-03T23:40:00.900Z"
    with TestClient(build_app(settings)) as client:
        groups = config_groups("kept", "kept-w", keep_windows=True)
        car = provision_and_send(client, groups, "kept", "veh-w1", group)
    assert car["speed"]["value"] == 69.0
    assert car["speed"]["observedAt"] == "2026-12-03T23:40:00.900Z"
    kept = car["telemetrySamples"]
    assert kept["type"] == "JsonProperty"
    assert kept["json"]["t"][0] == -900 and kept["json"][vss.SPEED][0] == 60.0


def test_the_cabins_biometrics_are_read_by_the_safety_service_and_not_stored(
    settings: Settings,
) -> None:
    samples = [(20.0 + k / 10, {vss.SPEED: 50.0 + k}) for k in range(10)]
    samples[4][1].update(
        {
            vss.SEAT_HEART_RATE: 71.0,
            vss.SEAT_QUALITY: 0.8,
            vss.SEAT_RR_INTERVALS: [0.84, 0.85],
            vss.CABIN_RR_INTERVALS: [0.83],
            vss.CAMERA_SPO2: 97.0,
            vss.CAMERA_QUALITY: 0.7,
            vss.DRIVER_HEART_RATE: 72.0,
        }
    )
    group = window_group(samples)
    group.pop("t")
    group["TimeInstant"] = "2026-12-05T07:40:00.900Z"
    with TestClient(build_app(settings.model_copy(update={"safety": True}))) as client:
        car = provision_and_send(client, config_groups("cab", "cab-w"), "cab", "veh-c1", group)
        safety = client.app.state.dalgu_safety  # type: ignore[attr-defined]
        monitor = safety.monitors[("", "veh-c1")]  # by device, as the safety service names it
        history = [*monitor.history.seconds, monitor.history.current]
        (second,) = [s for s in history if s.vehicle_samples]  # the second the window filled
    stored = {vss.SIGNAL_OF_ATTRIBUTE[name] for name in car if name in vss.SIGNAL_OF_ATTRIBUTE}
    assert stored == {vss.SPEED, vss.DRIVER_HEART_RATE}  # the wheel's rate is stored always
    assert stored.isdisjoint(vss.CABIN_BIOMETRICS)
    assert (second.seat_heart_rate, second.seat_quality, second.seat_rr) == (
        71.0,
        0.8,
        [0.84, 0.85],
    )
    assert (second.camera_spo2, second.camera_quality) == (97.0, 0.7)
