"""A heart that stops seconds after the wheel went still: the alert raised for the still wheel
is updated to say the heart stopped (an emergency desk sends a defibrillator for one, not the
other), while the alerts the evaluation matches stay those raised."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.safety import signals as vss
from dalgu.safety.detectors.awake import DriverBaseline
from dalgu.safety.monitor import VehicleMonitor
from dalgu.safety.service import config_groups
from dalgu.settings import Settings
from tests.safety.crafted import Signals, collapsing_from, samples, steady_wearable
from tests.safety.test_drivers import _drive, _until
from tests.safety.test_tenants import _alerts, _roster

COLLAPSE = 20.0  # s: the wheel goes still (read against the driver's stored wheel level)
STOPS = COLLAPSE + 8  # s: the heart stops, the band still worn and in good contact


def _band(t: float) -> Signals:
    if t < STOPS:
        return steady_wearable(t)
    return {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.9, vss.RR_INTERVALS: []}


def test_the_monitor_raises_the_still_wheel_and_then_specifies_the_stopped_heart() -> None:
    baseline = DriverBaseline("d", {"incapacitation.steeringActivity": 2.0})
    monitor = VehicleMonitor("v", "d", baseline=baseline)
    raised = []
    for sample in samples(COLLAPSE + 40, collapsing_from(COLLAPSE), _band):
        raised += monitor.feed(sample)
    # what the evaluation matches: the alert raised, as before
    assert [(a.type, a.subtype) for a in raised] == [("incapacitation", "no-steering-input")]
    ((before, after),) = monitor.updates
    assert before == raised[0]
    assert (after.type, after.subtype, after.severity) == ("cardiac", "asystole", "critical")
    assert after.raised == before.raised and after.onset == before.onset
    assert after.raised_as == ("incapacitation", "no-steering-input")
    assert after.entity_id(datetime(2026, 1, 1, tzinfo=UTC)) == before.entity_id(
        datetime(2026, 1, 1, tzinfo=UTC)
    )


def test_the_written_alert_is_updated_to_the_stopped_heart(settings: Settings) -> None:
    configured = settings.model_copy(update={"safety": True})
    key = f"s{uuid.uuid4().hex[:6]}"
    vehicle = f"veh-{uuid.uuid4().hex[:6]}"
    groups = config_groups(key, f"{key}-w")
    for group in groups["services"]:
        group["resource"] = "/iot/json"
    with TestClient(build_app(configured)) as client:
        assert client.post("/iot/services", json=groups).status_code == 201
        _roster(client, "", vehicle, "urn:ngsi-ld:Person:drv", 2.0)
        start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        _drive(
            client, (key, f"{key}-w"), vehicle, start, STOPS + 15, collapsing_from(COLLAPSE), _band
        )

        def updated() -> list[dict[str, Any]]:
            return [a for a in _alerts(client, "") if a["alertType"]["value"] == "cardiac"]

        (alert,) = _until(updated, "the alert's update")
        assert len(_alerts(client, "")) == 1  # the same alert, not a second one
        assert ":incapacitation:" in alert["id"]  # the id it was raised with
        assert alert["alertSubType"]["value"] == "asystole"
        assert alert["subCategory"]["value"] == "heartAttack"
        assert alert["severity"]["value"] == "critical"
        assert alert["raisedAs"]["value"] == {
            "alertType": "incapacitation",
            "alertSubType": "no-steering-input",
        }
        assert "asystole" in alert["description"]["value"]
        assert alert["driver"]["object"] == "urn:ngsi-ld:Person:drv"  # the rest stays
