"""After a sandbox's reset or deletion, the devices the gateway knew are gone too: their
messages are refused and write nothing into the tenant, in this server process and (within
the bindings' lifetime) in any other."""

from __future__ import annotations

import time
from typing import Any

from starlette.testclient import TestClient

from dalgu.devices import resolution

SB = "/testbed/sandboxes"
ENTITIES = "/ngsi-ld/v1/entities"


def sandbox_with_a_device(client: TestClient, name: str) -> str:
    created = client.post(SB, json={"name": name})
    assert created.status_code == 201, created.text
    key: str = created.json()["apiKeys"][0]["key"]
    group = {
        "apikey": key,
        "resource": "/iot/d",
        "entity_type": "AirQualityObserved",
        "attributes": [{"object_id": "p10", "name": "pm10", "type": "Number"}],
    }
    headers = {"fiware-service": name}
    assert (
        client.post("/iot/services", json={"services": [group]}, headers=headers).status_code == 201
    )
    for value in (1, 2, 3):
        assert (
            client.post(f"/iot/d?k={key}&i=v1", content=f"p10|{value}".encode()).status_code == 200
        )
    return key


def entities(client: TestClient, name: str) -> list[Any]:
    answer = client.get(
        ENTITIES, params={"type": "AirQualityObserved"}, headers={"NGSILD-Tenant": name}
    )
    found: list[Any] = answer.json()
    return found


def test_a_reset_sandbox_s_devices_write_nothing_more(client: TestClient) -> None:
    """docs/testbed.md: reset removes "its entities …, config groups, devices"."""
    key = sandbox_with_a_device(client, "resetco")
    assert client.post(f"{SB}/resetco/reset").status_code == 204
    sent = client.post(f"/iot/d?k={key}&i=v1", content=b"p10|30")
    assert sent.status_code == 404, sent.text
    assert entities(client, "resetco") == []


def test_a_deleted_sandbox_s_devices_write_nothing_and_its_name_is_free(client: TestClient) -> None:
    """docs/testbed.md: delete "reset[s], then remove[s] the sandbox and its keys"."""
    key = sandbox_with_a_device(client, "goneco")
    assert client.delete(f"{SB}/goneco").status_code == 204
    assert client.post(f"/iot/d?k={key}&i=v1", content=b"p10|101").status_code == 404
    assert entities(client, "goneco") == []
    assert client.post(SB, json={"name": "goneco"}).status_code == 201


def test_a_device_removed_by_another_process_is_refused_within_the_bindings_lifetime(
    client: TestClient, monkeypatch: Any
) -> None:
    """Another server process (DALGU_WORKERS) removes the device from the store: this one
    stops taking its messages once its binding has lived its time."""
    monkeypatch.setattr(resolution, "BINDING_LIFETIME", 0.2)
    key = sandbox_with_a_device(client, "otherco")
    registry = client.app.state.dalgu.devices.registry  # type: ignore[attr-defined]
    client.portal.call(registry.wipe_testbed, "otherco")  # type: ignore[union-attr]
    time.sleep(0.3)
    assert client.post(f"/iot/d?k={key}&i=v1", content=b"p10|7").status_code == 404
