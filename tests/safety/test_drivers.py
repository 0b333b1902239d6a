"""Drivers known from NGSI-LD entities, drives told apart, and a driver's awake baseline carried
from one drive to the next: through the HTTP gateway, on both stores."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.safety.detectors.base import CALIBRATION
from dalgu.safety.service import DRIVE_GAP, EPOCH, config_groups
from dalgu.settings import Settings
from tests.safety.crafted import collapsing_from, steady_vehicle, steady_wearable
from tests.safety.test_service_mqtt import Summaries

Signals = Callable[[float], dict[str, Any]]
COLLAPSE = 20.0  # s into the second drive: too soon for the drive to know the driver's wheel


def _drive(
    client: TestClient,
    keys: tuple[str, str],
    vehicle: str,
    start: datetime,
    seconds: float,
    car: Signals,
    band: Signals,
) -> None:
    """A second of 10 Hz telemetry per request, then the wearable's second, as they arrive."""

    def stamp(t: float) -> str:
        return (start + timedelta(seconds=t)).isoformat().replace("+00:00", "Z")

    for second in range(int(seconds)):
        groups = [
            {**car(second + step / 10), "TimeInstant": stamp(second + step / 10)}
            for step in range(10)
        ]
        worn = {k: v for k, v in band(second + 0.5).items() if v is not None}
        for key, device, body in (
            (keys[0], vehicle, groups),
            (keys[1], f"{vehicle}-wearable", [{**worn, "TimeInstant": stamp(second + 0.5)}]),
        ):
            answer = client.post(f"/iot/json?k={key}&i={device}", content=orjson.dumps(body))
            assert answer.status_code == 200, answer.text


def _until(read: Callable[[], Any], what: str, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = read()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not come")


@pytest.mark.slow
def test_a_drivers_baseline_is_kept_and_reads_their_next_drive_from_its_first_second(
    settings: Settings,
) -> None:
    configured = settings.model_copy(update={"safety": True})
    key = f"car{uuid.uuid4().hex[:6]}"
    keys = (key, f"{key}-w")
    vehicle = f"veh-{uuid.uuid4().hex[:6]}"
    person = "urn:ngsi-ld:Person:kim-min-ji"
    groups = config_groups(*keys)
    for group in groups["services"]:
        group["resource"] = "/iot/json"
    with TestClient(build_app(configured)) as client:
        assert client.post("/iot/services", json=groups).status_code == 201
        safety = client.app.state.dalgu_safety  # type: ignore[attr-defined]
        summaries = Summaries()
        safety.medical = summaries
        # who drives, and what they agreed to, as a fleet app would write it
        made = client.post(
            "/ngsi-ld/v1/entities",
            json={
                "id": person,
                "type": "Person",
                "fhirPatient": {"type": "Property", "value": "Patient/p9"},
                "medicalSummaryConsent": {"type": "Property", "value": True},
            },
        )
        assert made.status_code == 201, made.text
        made = client.post(
            "/ngsi-ld/v1/entities",
            json={
                "id": f"urn:ngsi-ld:Vehicle:{vehicle}",
                "type": "Vehicle",
                "driver": {"type": "Relationship", "object": person},
            },
        )
        assert made.status_code == 201, made.text

        # the first drive: ten awake minutes and a little more, nothing happens
        first = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        _drive(client, keys, vehicle, first, CALIBRATION + 15, steady_vehicle, steady_wearable)
        stored = _until(
            lambda: (
                client.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:DriverBaseline:{person}").json()
                if client.get(
                    f"/ngsi-ld/v1/entities/urn:ngsi-ld:DriverBaseline:{person}"
                ).status_code
                == 200
                else None
            ),
            "the driver's baseline",
        )
        levels = stored["awakeLevels"]["json"]["levels"]
        assert stored["driver"]["object"] == person
        assert stored["vehicle"]["object"] == f"urn:ngsi-ld:Vehicle:{vehicle}"
        assert levels["hypoxaemia.spo2"] == 97.0
        wheel = levels["incapacitation.steeringActivity"]
        assert wheel > 1.0
        # and the drowsiness detector's awake reference: the steady driver's beat, in ms
        profile = stored["awakeLevels"]["json"]["profiles"]["drowsiness"]
        assert abs(profile["heart"]["mean"] - 60000 / 70) < 40
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Alert"}).json() == []

        # the vehicle silent longer than a drive's gap: the next message begins another drive,
        # in which the driver collapses 20 s in, before that drive knows how they steer
        second = first + timedelta(seconds=CALIBRATION + 15 + DRIVE_GAP + 60)
        _drive(
            client, keys, vehicle, second, COLLAPSE + 15, collapsing_from(COLLAPSE), steady_wearable
        )
        alerts = _until(
            lambda: client.get("/ngsi-ld/v1/entities", params={"type": "Alert"}).json(),
            "the alert",
        )
        assert [a["alertType"]["value"] for a in alerts] == ["incapacitation"]
        alert = alerts[0]
        assert alert["driver"]["object"] == person
        assert alert["evidence"]["value"]["driverBaselineActivity"] == round(wheel, 3)
        issued = datetime.fromisoformat(alert["dateIssued"]["value"].replace("Z", "+00:00"))
        assert issued - (second + timedelta(seconds=COLLAPSE)) <= timedelta(seconds=8)
        # the driver consented: the emergency carries their record's summary
        assert alert["medicalSummary"]["value"]["conditions"] == ["long QT syndrome"]
        assert summaries.asked == ["Patient/p9"]
        assert len(safety.monitors) == 1 and safety.baselines_kept == 1


class _Broken:
    """An entity service whose reads fail in an unforeseen way; writes are kept."""

    def __init__(self) -> None:
        self.created: list[str] = []

    async def retrieve(self, tenant: str, entity_id: str) -> Any:
        raise RuntimeError("disk on fire")

    async def create(self, tenant: str, entity: Any) -> None:
        self.created.append(entity["id"])


def test_a_failing_driver_lookup_does_not_stop_the_alerts_behind_it() -> None:
    from dalgu.ldcontext import core_terms
    from dalgu.safety.alert import Alert
    from dalgu.safety.monitor import VehicleMonitor
    from dalgu.safety.service import DriveStarted, Raised, SafetyService

    entities = _Broken()
    service = SafetyService(entities, core_terms())  # type: ignore[arg-type]
    alert = Alert("veh-9", None, "cardiac", "asystole", "critical", 0.9, 10.0, 15.0, {}, None)

    async def run() -> None:
        service.start()
        service._queue.put_nowait(DriveStarted("veh-9", VehicleMonitor("veh-9")))
        service._queue.put_nowait(Raised(alert))
        for _ in range(200):
            if service.published:
                break
            await asyncio.sleep(0.01)
        await service.stop()

    asyncio.run(run())
    assert [a for a, _, _ in service.published] == [alert]
    assert entities.created == [alert.to_entity(EPOCH, "urn:ngsi-ld:Vehicle:veh-9", None)["id"]]
