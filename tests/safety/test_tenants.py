"""The safety service works in the tenant a vehicle's devices send to: its roster, its
baselines and its alerts are that tenant's, and another tenant's vehicle of the same id is
another vehicle. Through the HTTP gateway, on both stores."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.safety.service import config_groups
from dalgu.settings import Settings
from tests.safety.crafted import collapsing_from, steady_vehicle, steady_wearable
from tests.safety.test_drivers import _drive, _until

COLLAPSE = 20.0  # s: too soon for a drive to know the wheel unless the stored baseline says
PERSON = "urn:ngsi-ld:Person:drv"  # the same driver id in both firms


def _in(tenant: str) -> dict[str, str]:
    return {"NGSILD-Tenant": tenant} if tenant else {}


def _create(client: TestClient, tenant: str, entity: dict[str, Any]) -> None:
    made = client.post("/ngsi-ld/v1/entities", json=entity, headers=_in(tenant))
    assert made.status_code == 201, made.text


def _roster(client: TestClient, tenant: str, vehicle: str, person: str, wheel: float) -> None:
    """A Vehicle naming its driver, and that driver's stored baseline, in `tenant`."""
    _create(client, tenant, {"id": person, "type": "Person"})
    _create(
        client,
        tenant,
        {
            "id": f"urn:ngsi-ld:Vehicle:{vehicle}",
            "type": "Vehicle",
            "driver": {"type": "Relationship", "object": person},
        },
    )
    levels = {"driver": person, "levels": {"incapacitation.steeringActivity": wheel}}
    _create(
        client,
        tenant,
        {
            "id": f"urn:ngsi-ld:DriverBaseline:{person}",
            "type": "DriverBaseline",
            "driver": {"type": "Relationship", "object": person},
            "awakeLevels": {"type": "JsonProperty", "json": levels},
        },
    )


def _alerts(client: TestClient, tenant: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(
        "/ngsi-ld/v1/entities", params={"type": "Alert"}, headers=_in(tenant)
    ).json()
    return found


def test_a_vehicles_alert_roster_and_baseline_are_its_devices_tenants(
    settings: Settings,
) -> None:
    configured = settings.model_copy(update={"safety": True})
    vehicle = f"veh-{uuid.uuid4().hex[:6]}"
    firms = {"firma": f"a{uuid.uuid4().hex[:6]}", "firmb": f"b{uuid.uuid4().hex[:6]}"}
    with TestClient(build_app(configured)) as client:
        for firm, key in firms.items():
            groups = config_groups(key, f"{key}-w")
            for group in groups["services"]:
                group["resource"] = "/iot/json"
            made = client.post("/iot/services", json=groups, headers={"fiware-service": firm})
            assert made.status_code == 201, made.text
        # the same vehicle id and driver id in both firms, each with its own stored wheel
        # level; and in the default tenant a Vehicle of that id naming someone else
        _roster(client, "firma", vehicle, PERSON, 2.0)
        _roster(client, "firmb", vehicle, PERSON, 7.5)
        _roster(client, "", vehicle, "urn:ngsi-ld:Person:somebody-else", 7.5)

        start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        keys = {firm: (key, f"{key}-w") for firm, key in firms.items()}
        # firm A's driver collapses; firm B's car of the same id drives on, at the same times
        _drive(
            client, keys["firmb"], vehicle, start, COLLAPSE + 15, steady_vehicle, steady_wearable
        )
        _drive(
            client,
            keys["firma"],
            vehicle,
            start,
            COLLAPSE + 15,
            collapsing_from(COLLAPSE),
            steady_wearable,
        )
        (alert,) = _until(lambda: _alerts(client, "firma"), "firm A's alert")
        assert alert["alertSource"]["object"] == f"urn:ngsi-ld:Vehicle:{vehicle}"
        assert alert["driver"]["object"] == PERSON  # A's roster, not the default tenant's
        # read against A's stored baseline (B's would say 7.5; none, no alert this soon)
        assert alert["evidence"]["value"]["driverBaselineActivity"] == 2.0
        assert _alerts(client, "") == []
        assert _alerts(client, "firmb") == []
        safety = client.app.state.dalgu_safety  # type: ignore[attr-defined]
        ours, theirs = safety.monitors[("firma", vehicle)], safety.monitors[("firmb", vehicle)]
        assert ours is not theirs and set(safety.monitors) == {
            ("firma", vehicle),
            ("firmb", vehicle),
        }
        assert ours.driver == theirs.driver == PERSON
