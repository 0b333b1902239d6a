"""Provisioning read-backs as the IoT Agents answer them: what was provisioned, as given
(`"type": "Property"` kept), each list present even empty, a command's `object_id`, and a
device's `explicitAttrs` (tutorials report #9)."""

from __future__ import annotations

from starlette.testclient import TestClient

OPENIOT = {"fiware-service": "openiot", "fiware-servicepath": "/"}


def test_a_group_reads_back_as_provisioned_with_every_list(client: TestClient) -> None:
    group = {  # the IoT-Agent tutorial's step 2
        "apikey": "4jggokgpepnvsb2uv4s40d59ov",
        "cbroker": "http://orion:1026",
        "entity_type": "Device",
        "resource": "/iot/d",
        "attributes": [
            {"object_id": "bpm", "type": "Property", "name": "heartRate"},
            {"object_id": "s", "name": "status", "type": "Property"},
        ],
        "static_attributes": [{"name": "category", "type": "Property", "value": "sensor"}],
    }
    created = client.post("/iot/services", json={"services": [group]}, headers=OPENIOT)
    assert created.status_code == 201, created.text
    (listed,) = client.get("/iot/services", headers=OPENIOT).json()["services"]
    assert listed["attributes"] == group["attributes"]
    assert listed["static_attributes"] == group["static_attributes"]
    assert listed["commands"] == [] and listed["lazy"] == []
    assert listed["internal_attributes"] == []


def test_a_device_reads_back_with_its_commands_object_id_and_empty_lists(
    client: TestClient,
) -> None:
    device = {  # the IoT-Agent tutorial's step 12
        "device_id": "water002",
        "entity_name": "urn:ngsi-ld:Device:water002",
        "entity_type": "Device",
        "apikey": "k-water",
        "protocol": "PDI-IoTA-UltraLight",
        "transport": "HTTP",
        "endpoint": "http://iot-sensors:3001/iot/water002",
        "commands": [{"name": "on", "type": "Property"}, {"name": "off", "type": "Property"}],
    }
    created = client.post("/iot/devices", json={"devices": [device]}, headers=OPENIOT)
    assert created.status_code == 201, created.text
    read = client.get("/iot/devices/water002", headers=OPENIOT).json()
    assert read["commands"] == [
        {"object_id": "on", "name": "on", "type": "Property"},
        {"object_id": "off", "name": "off", "type": "Property"},
    ]
    assert read["attributes"] == [] and read["lazy"] == [] and read["static_attributes"] == []
    assert read["explicitAttrs"] is False
    (listed,) = client.get("/iot/devices", headers=OPENIOT).json()["devices"]
    assert listed == read
