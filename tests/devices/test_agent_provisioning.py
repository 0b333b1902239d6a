"""Provisioning requests written for the FIWARE IoT Agents (their own tests' bodies) work."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
AGENT = {"fiware-service": "agent", "fiware-servicepath": "/gardens"}
TENANT = {"NGSILD-Tenant": "agent"}


def test_a_transport_in_lower_case_is_accepted_and_kept_upper_case(client: TestClient) -> None:
    group = {  # testCases.js 0200
        "resource": "/iot/json",
        "apikey": "k-cmd",
        "entity_type": "TestType",
        "commands": [{"name": "cmd1", "type": "command"}],
        "endpoint": "http://myendpoint.com",
        "transport": "http",
    }
    created = client.post("/iot/services", json={"services": [group]}, headers=AGENT)
    assert created.status_code == 201, created.text
    assert client.get("/iot/services", headers=AGENT).json()["services"][0]["transport"] == "HTTP"
    device = {"device_id": "d1", "apikey": "k-cmd", "transport": "mqtt"}
    created = client.post("/iot/devices", json={"devices": [device]}, headers=AGENT)
    assert created.status_code == 201, created.text
    assert client.get("/iot/devices/d1", headers=AGENT).json()["transport"] == "MQTT"
    refused = client.post(
        "/iot/devices", json={"devices": [{**device, "transport": "pigeon"}]}, headers=AGENT
    )
    assert refused.status_code == 400


def test_an_attribute_mapping_without_a_name_is_named_by_its_object_id(client: TestClient) -> None:
    group = {  # testCases.js 0550
        "resource": "/iot/json",
        "apikey": "k-noname",
        "entity_type": "TestType",
        "attributes": [
            {"object_id": "a", "name": "attr_a", "type": "Number"},
            {"object_id": "c", "type": "Number"},
        ],
    }
    created = client.post("/iot/services", json={"services": [group]}, headers=AGENT)
    assert created.status_code == 201, created.text
    sent = client.post("/iot/json?k=k-noname&i=d1", content=b'{"a": 1, "c": "2.5"}')
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:TestType:d1?options=keyValues", headers=TENANT).json()
    assert entity["attr_a"] == 1 and entity["c"] == 2.5  # typed by its mapping
    nameless = {**group, "apikey": "k-nothing", "attributes": [{"type": "Number"}]}
    refused = client.post("/iot/services", json={"services": [nameless]}, headers=AGENT)
    assert refused.status_code == 400 and "name" in refused.json()["detail"]
