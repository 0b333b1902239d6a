"""`explicitAttrs` as a list picks the static attributes too, and `[]` writes nothing, as the
IoT Agents do (`testCases.js` 0530-0534)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.devices.conftest import publish, wait_for

E = "/ngsi-ld/v1/entities"
EXPLICIT = {"fiware-service": "explicit", "fiware-servicepath": "/"}
TENANT = {"NGSILD-Tenant": "explicit"}


def group(apikey: str, explicit: Any) -> dict[str, Any]:
    return {
        "apikey": apikey,
        "resource": "/iot/json",
        "entity_type": "TestType",
        "explicitAttrs": explicit,
        "attributes": [
            {"name": "attr_a", "object_id": "a", "type": "Number"},
            {"name": "attr_b", "object_id": "b", "type": "Number"},
        ],
        "static_attributes": [
            {"name": "static_a", "type": "Number", "value": 3},
            {"name": "static_b", "type": "Number", "value": 4},
        ],
    }


@pytest.mark.parametrize("explicit", [["attr_a", "static_a"], "['attr_a','static_a']"])
def test_an_explicit_list_names_the_static_attributes_written(
    client: TestClient, explicit: Any
) -> None:
    body = {"services": [group("k-explicit", explicit)]}
    assert client.post("/iot/services", json=body, headers=EXPLICIT).status_code == 201
    device = {"device_id": "provisioned", "apikey": "k-explicit", "entity_type": "TestType"}
    created = client.post("/iot/devices", json={"devices": [device]}, headers=EXPLICIT)
    assert created.status_code == 201
    for device_id in ("provisioned", "autoprovisioned"):
        sent = client.post(
            f"/iot/json?k=k-explicit&i={device_id}", content=b'{"a":3,"b":10,"c":11}'
        )
        assert sent.status_code == 200, sent.text
        url = f"{E}/urn:ngsi-ld:TestType:{device_id}?options=keyValues"
        entity = client.get(url, headers=TENANT).json()
        assert entity == {
            "id": f"urn:ngsi-ld:TestType:{device_id}",
            "type": "TestType",
            "attr_a": 3,
            "static_a": 3,
        }


@pytest.mark.parametrize("explicit", [[], "[ ]"])
def test_an_empty_explicit_list_writes_nothing(client: TestClient, explicit: Any) -> None:
    body = {"services": [group("k-none", explicit)]}
    assert client.post("/iot/services", json=body, headers=EXPLICIT).status_code == 201
    sent = client.post("/iot/json?k=k-none&i=TestDevice", content=b'{"a":3,"c":11}')
    assert sent.status_code == 200, sent.text
    assert client.get(f"{E}/urn:ngsi-ld:TestType:TestDevice", headers=TENANT).status_code == 404
    assert client.get("/iot/devices/TestDevice", headers=EXPLICIT).status_code == 200


def test_an_explicit_list_names_the_static_attributes_over_mqtt(
    gateway: tuple[TestClient, int],
) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    body = {"services": [{**group(apikey, ["attr_a", "static_a"]), "resource": ""}]}
    assert client.post("/iot/services", json=body).status_code == 201
    publish(port, f"/json/{apikey}/d1/attrs", b'{"a": 5, "b": 6}')
    url = f"{E}/urn:ngsi-ld:TestType:d1?options=keyValues"
    entity = wait_for(client, url, lambda e: "attr_a" in e)
    assert entity == {
        "id": "urn:ngsi-ld:TestType:d1",
        "type": "TestType",
        "attr_a": 5,
        "static_a": 3,
    }
