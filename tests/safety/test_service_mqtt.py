"""End to end: a car and a wearable publish over MQTT through the gateway, the driver's heart
stops, and the alert is an NGSI-LD Alert entity delivered by subscription, with the medical
summary the driver consented to share."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import orjson
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.safety import signals as vss
from dalgu.safety.medical import Driver
from dalgu.safety.service import config_groups
from dalgu.safety.telemetry_window import window_group
from dalgu.settings import Settings
from tests.dashboard.html import parse
from tests.devices.conftest import MOSQUITTO
from tests.receiver import Receiver
from tests.safety.crafted import steady_vehicle, steady_wearable

COLLAPSE = 640.0  # s into the drive, after the ten minutes of calibration


class Summaries:
    """An in-test medical information service."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def summary(self, patient: str) -> dict[str, Any] | None:
        self.asked.append(patient)
        return {"conditions": ["long QT syndrome"], "medication": ["nadolol"]}


def _vehicle(t: float) -> dict[str, Any]:
    signals = steady_vehicle(t)
    if t > COLLAPSE + 4:
        signals.update({vss.STEERING: 0.0, vss.EYES_ON_ROAD: False})
        signals[vss.SPEED] = 90.0 - 2.0 * (t - COLLAPSE)
    return signals


def _wearable(t: float) -> dict[str, Any]:
    if t < COLLAPSE:
        return steady_wearable(t)
    return {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.45, vss.RR_INTERVALS: []}


def _messages(start: datetime, apikey: str, vehicle: str, windows: bool) -> list[tuple[str, bytes]]:
    """A second of 10 Hz telemetry per message (a JSON array of timestamped groups, or one
    telemetry window), then the wearable's message of that second: the order they would
    arrive in live."""

    def stamp(t: float) -> str:
        return (start + timedelta(seconds=t)).isoformat().replace("+00:00", "Z")

    out = []
    for second in range(int(COLLAPSE + 30)):
        cars, bands = [], []
        for step in range(10):
            t = second + step / 10
            cars.append({**_vehicle(t), "TimeInstant": stamp(t)})
            if step == 5:
                values = {k: v for k, v in _wearable(t).items() if v is not None}
                bands.append({**values, "TimeInstant": stamp(t)})
        if windows:
            window = window_group(
                [(second + step / 10, _vehicle(second + step / 10)) for step in range(10)]
            )
            window["TimeInstant"] = stamp(window.pop("t"))
            out.append((f"/json/{apikey}/{vehicle}/attrs", orjson.dumps(window)))
        else:
            out.append((f"/json/{apikey}/{vehicle}/attrs", orjson.dumps(cars)))
        out.append((f"/json/{apikey}-w/{vehicle}-wearable/attrs", orjson.dumps(bands)))
    return out


def _publish(messages: list[tuple[str, bytes]], received: Any) -> None:
    """Publish in steps the gateway keeps up with: a broker drops what a subscriber's queue
    cannot hold (Mosquitto keeps 1000 messages), and the test machine may be busy."""

    async def send() -> None:
        start = received()
        async with aiomqtt.Client(*MOSQUITTO, identifier=f"car-{uuid.uuid4().hex[:6]}") as c:
            for index, (topic, payload) in enumerate(messages, 1):
                await c.publish(topic, payload, qos=1)
                if index % 200 == 0 or index == len(messages):  # the last ones too: the test
                    # then reads what they stored
                    deadline = time.monotonic() + 60
                    # the counter lives in the server thread: polled, no event to wait on
                    while received() - start < index and time.monotonic() < deadline:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)

    asyncio.run(send())


@pytest.mark.slow
@pytest.mark.parametrize("windows", [False, True], ids=["measure-groups", "telemetry-windows"])
def test_a_collapse_at_the_wheel_is_an_alert_delivered_by_subscription(
    settings: Settings, windows: bool
) -> None:
    configured = settings.model_copy(
        update={
            "mqtt_broker": "external",
            "mqtt_port": MOSQUITTO[1],
            "mqtt_client_id": f"dalgu-safety-{uuid.uuid4().hex[:8]}",
            "safety": True,
        }
    )
    apikey = f"car{uuid.uuid4().hex[:8]}"
    vehicle = f"veh-{uuid.uuid4().hex[:6]}"
    receiver = Receiver()
    try:
        with TestClient(build_app(configured)) as client:
            state = client.app.state  # type: ignore[attr-defined]
            southbound = state.dalgu_gateway.southbound
            deadline = time.monotonic() + 10
            while not southbound.ready.is_set():
                assert time.monotonic() < deadline, "the MQTT southbound did not subscribe"
                time.sleep(0.05)
            groups = config_groups(apikey, f"{apikey}-w")
            assert client.post("/iot/services", json=groups).status_code == 201
            safety = state.dalgu_safety
            summaries = Summaries()
            safety.medical = summaries
            driver = Driver("urn:ngsi-ld:Person:driver-1", "Patient/p1", consent=True)
            safety.follow(vehicle, driver=driver)
            subscription = {
                "type": "Subscription",
                "entities": [{"type": "Alert"}],
                "notification": {"endpoint": {"uri": receiver.url, "accept": "application/json"}},
            }
            assert client.post("/ngsi-ld/v1/subscriptions", json=subscription).status_code == 201

            start = datetime.now(UTC) - timedelta(seconds=COLLAPSE + 60)
            traffic = state.dalgu.devices.traffic

            def received() -> int:
                # this test's messages only: other tests (another worker) share the broker
                counts = list(traffic.counts.items())
                return sum(n for (key, _, _), n in counts if key in (apikey, f"{apikey}-w"))

            _publish(_messages(start, apikey, vehicle, windows), received)

            _, body = receiver.next(timeout=90)
            alert = body["data"][0]
            assert alert["type"] == "Alert"
            assert alert["alertType"]["value"] == "cardiac"
            assert alert["alertSubType"]["value"] == "asystole"
            assert alert["severity"]["value"] == "critical"
            assert alert["alertSource"]["object"] == f"urn:ngsi-ld:Vehicle:{vehicle}"
            assert alert["driver"]["object"] == driver.id
            assert alert["medicalSummary"]["value"]["conditions"] == ["long QT syndrome"]
            assert alert["location"]["value"]["coordinates"] == [128.6, 35.87]
            onset = datetime.fromisoformat(alert["onset"]["value"].replace("Z", "+00:00"))
            issued = datetime.fromisoformat(alert["dateIssued"]["value"].replace("Z", "+00:00"))
            assert (
                timedelta(0)
                <= issued - (start + timedelta(seconds=COLLAPSE))
                <= timedelta(seconds=10)
            )
            assert onset <= issued
            assert summaries.asked == ["Patient/p1"]
            stored = client.get("/ngsi-ld/v1/entities", params={"type": "Alert"}).json()
            assert [e["id"] for e in stored] == [alert["id"]]
            # and the dashboard lists it, as an operator would see it
            shown = client.get("/dashboard/alerts", params={"lang": "en"})
            (row,) = parse(shown.text).first("table").rows()
            assert row[1:3] == ["critical", "health / heart attack"]  # in the page's language
            assert row[4] == f"urn:ngsi-ld:Vehicle:{vehicle}"
            car = client.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:{vehicle}").json()
            assert "speed" in car and "steeringWheelAngle" in car  # the VSS paths, mapped
            # the newest sample's values; a window is read by the safety service, not stored
            assert car["speed"]["value"] == pytest.approx(_vehicle(COLLAPSE + 29.9)[vss.SPEED])
            assert not any("sample" in name.lower() for name in car)
    finally:
        receiver.close()
