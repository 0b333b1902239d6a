"""`PUT /iot/devices/{id}` changes `entity_type` and `entity_name` as the IoT Agents' update
allows (`updateDevice.json`): the FIWARE tutorial's "Update a Provisioned Device" (tutorials
report #3)."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"


def provision(client: TestClient, apikey: str, **device: object) -> None:
    body = {"device_id": "water002", "apikey": apikey, "commands": [{"name": "on"}], **device}
    created = client.post("/iot/devices", json={"devices": [body]})
    assert created.status_code == 201, created.text


def measure(client: TestClient, apikey: str) -> None:
    sent = client.post(f"/iot/d?k={apikey}&i=water002", content=b"s|1")
    assert sent.status_code == 200, sent.text


def test_a_new_entity_type_is_taken_and_the_entity_keeps_its_id(client: TestClient) -> None:
    apikey = f"k{uuid.uuid4().hex[:8]}"
    provision(client, apikey, entity_name="urn:ngsi-ld:Device:water002", entity_type="Device")
    updated = client.put("/iot/devices/water002", json={"entity_type": "IoT-Device"})
    assert updated.status_code == 204, updated.text
    assert client.get("/iot/devices/water002").json()["entity_type"] == "IoT-Device"
    measure(client, apikey)
    found = client.get(E, params={"type": "IoT-Device", "attrs": "s"}).json()
    assert [e["id"] for e in found] == ["urn:ngsi-ld:Device:water002"]


def test_a_device_named_by_default_keeps_its_entity_when_its_type_changes(
    client: TestClient,
) -> None:
    apikey = f"k{uuid.uuid4().hex[:8]}"
    provision(client, apikey, entity_type="Device")
    updated = client.put("/iot/devices/water002", json={"entity_type": "IoT-Device"})
    assert updated.status_code == 204, updated.text
    measure(client, apikey)
    entity = client.get(f"{E}/urn:ngsi-ld:Device:water002?options=keyValues").json()
    assert entity["s"] == 1
    assert client.get(f"{E}/urn:ngsi-ld:IoT-Device:water002").status_code == 404


def test_a_new_entity_name_sends_the_device_to_that_entity(client: TestClient) -> None:
    apikey = f"k{uuid.uuid4().hex[:8]}"
    provision(client, apikey, entity_name="urn:ngsi-ld:Device:water002", entity_type="Device")
    renamed = {"entity_name": "urn:ngsi-ld:Device:water001b"}
    assert client.put("/iot/devices/water002", json=renamed).status_code == 204
    entity = client.get(f"{E}/urn:ngsi-ld:Device:water001b?options=keyValues").json()
    assert entity["on_status"] == "UNKNOWN"  # its commands are on its new entity
    measure(client, apikey)
    assert client.get(f"{E}/urn:ngsi-ld:Device:water001b?options=keyValues").json()["s"] == 1
    refused = client.put("/iot/devices/water002", json={"entity_name": "no uri here"})
    assert refused.status_code == 400 and "entity_name" in refused.json()["detail"]
    assert client.put("/iot/devices/water002", json={"device_id": "other"}).status_code == 400
