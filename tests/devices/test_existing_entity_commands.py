"""A device whose entity exists already (created by another client, or left by a device
deleted and provisioned again) gains its commands and static attributes, as the IoT Agent in
NGSI-LD mode upserts them (`entityOperations/upsert?options=update`): a PATCH of a command is
not a 404 (tutorials report #1)."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
LAMP = "urn:ngsi-ld:Device:lamp9"


def provision(client: TestClient, apikey: str, *commands: str, **device: object) -> None:
    body = {
        "device_id": "lamp9",
        "entity_name": LAMP,
        "entity_type": "Device",
        "apikey": apikey,
        "transport": "HTTP",  # no endpoint: a polling device, its commands wait in the store
        "commands": [{"name": c, "type": "Property"} for c in commands],
        **device,
    }
    created = client.post("/iot/devices", json={"devices": [body]})
    assert created.status_code == 201, created.text


def waiting_commands(client: TestClient, apikey: str) -> str:
    fetched = client.get(f"/iot/d?k={apikey}&i=lamp9&getCmd=1")
    assert fetched.status_code == 200, fetched.text
    return fetched.text


def test_provisioning_a_device_whose_entity_exists_adds_its_commands(client: TestClient) -> None:
    pre = {"id": LAMP, "type": "Device", "name": {"type": "Property", "value": "pre-existing"}}
    assert client.post(E, json=pre).status_code == 201
    apikey = f"k{uuid.uuid4().hex[:10]}"
    static = {"name": "controlledAsset", "type": "Relationship", "value": "urn:ngsi-ld:B:1"}
    provision(client, apikey, "on", static_attributes=[static])
    entity = client.get(f"{E}/{LAMP}?options=keyValues").json()
    assert entity["name"] == "pre-existing"  # what the entity held stays
    assert entity["controlledAsset"] == "urn:ngsi-ld:B:1"
    assert entity["on_status"] == "UNKNOWN" and "on" in entity
    assert waiting_commands(client, apikey) == ""  # adding the command sent none
    patched = client.patch(f"{E}/{LAMP}/attrs/on", json={"type": "Property", "value": " "})
    assert patched.status_code == 204, patched.text
    assert waiting_commands(client, apikey) == "lamp9@on| "


def test_a_device_provisioned_again_with_a_new_command_gets_it(client: TestClient) -> None:
    apikey = f"k{uuid.uuid4().hex[:10]}"
    provision(client, apikey, "on")
    assert client.patch(f"{E}/{LAMP}/attrs/on", json={"value": "1"}).status_code == 204
    assert waiting_commands(client, apikey) == "lamp9@on|1"
    assert client.delete("/iot/devices/lamp9").status_code == 204  # the entity stays
    provision(client, apikey, "on", "off")
    entity = client.get(f"{E}/{LAMP}?options=keyValues").json()
    assert entity["off_status"] == "UNKNOWN"
    assert entity["on_status"] == "DELIVERED"  # the command already there keeps its state
    assert waiting_commands(client, apikey) == ""
    assert client.patch(f"{E}/{LAMP}/attrs/off", json={"value": "x"}).status_code == 204
    assert waiting_commands(client, apikey) == "lamp9@off|x"


def test_a_command_added_by_a_device_update_appears_on_its_entity(client: TestClient) -> None:
    apikey = f"k{uuid.uuid4().hex[:10]}"
    provision(client, apikey, "on")
    commands = [{"name": "on", "type": "Property"}, {"name": "off", "type": "Property"}]
    updated = client.put("/iot/devices/lamp9", json={"commands": commands})
    assert updated.status_code == 204, updated.text
    entity = client.get(f"{E}/{LAMP}?options=keyValues").json()
    assert entity["off_status"] == "UNKNOWN" and entity["on_status"] == "UNKNOWN"
    assert waiting_commands(client, apikey) == ""
    assert client.patch(f"{E}/{LAMP}/attrs/off", json={"value": "x"}).status_code == 204
    assert waiting_commands(client, apikey) == "lamp9@off|x"
