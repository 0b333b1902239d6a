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


def provision_lights(client: TestClient, apikey: str = "k-del") -> None:
    group = {"apikey": apikey, "resource": "/deviceTest", "entity_type": "Light"}
    created = client.post("/iot/services", json={"services": [group]}, headers=AGENT)
    assert created.status_code == 201, created.text
    devices = [{"device_id": "Light1", "apikey": apikey}, {"device_id": "Light2", "apikey": apikey}]
    created = client.post("/iot/devices", json={"devices": devices}, headers=AGENT)
    assert created.status_code == 201, created.text


def test_removing_a_group_with_device_true_removes_its_devices(client: TestClient) -> None:
    provision_lights(client)
    other = {"device_id": "Other1", "apikey": "k-other"}  # another apikey: stays
    assert client.post("/iot/devices", json={"devices": [other]}, headers=AGENT).status_code == 201
    params = {"resource": "/deviceTest", "apikey": "k-del", "device": "true"}
    assert client.delete("/iot/services", params=params, headers=AGENT).status_code == 204
    listed = client.get("/iot/devices", headers=AGENT).json()
    assert [d["device_id"] for d in listed["devices"]] == ["Other1"]
    assert client.get("/iot/devices/Light1", headers=AGENT).status_code == 404
    assert client.get("/iot/services", headers=AGENT).json()["count"] == 0
    # without device=true the devices stay, as before
    provision_lights(client, "k-keep")
    params = {"resource": "/deviceTest", "apikey": "k-keep"}
    assert client.delete("/iot/services", params=params, headers=AGENT).status_code == 204
    assert client.get("/iot/devices", headers=AGENT).json()["count"] == 3


def test_bulk_device_removal(client: TestClient) -> None:
    provision_lights(client)
    body = {
        "devices": [
            {"deviceId": "Light1", "apikey": "k-del"},
            {"deviceId": "Light2", "apikey": "k-del"},
        ]
    }
    assert client.post("/iot/op/delete", json=body, headers=AGENT).status_code == 204
    assert client.get("/iot/devices", headers=AGENT).json()["count"] == 0
    # one unknown: the others named still go, and the answer is a 404 naming it
    provision_lights(client, "k-del2")
    body = {
        "devices": [
            {"deviceId": "Light1", "apikey": "k-del2"},
            {"deviceId": "Light9", "apikey": "k-del2"},
            {"deviceId": "Light2", "apikey": "k-wrong"},
        ]
    }
    answer = client.post("/iot/op/delete", json=body, headers=AGENT)
    assert answer.status_code == 404, answer.text
    assert "Light9" in answer.json()["detail"] and "Light2" in answer.json()["detail"]
    listed = client.get("/iot/devices", headers=AGENT).json()
    assert [d["device_id"] for d in listed["devices"]] == ["Light2"]
    malformed = client.post("/iot/op/delete", json={"devices": [{"apikey": "x"}]}, headers=AGENT)
    assert malformed.status_code == 400
    assert client.get("/iot/devices", headers=AGENT).json()["count"] == 1


def test_provisioning_errors_carry_the_agents_name_and_message(client: TestClient) -> None:
    provision_lights(client)
    device = {"device_id": "Light1", "apikey": "k-del"}
    cases = [
        (
            client.post("/iot/devices", json={"devices": [device]}, headers=AGENT),
            409,
            "DUPLICATE_DEVICE_ID",
        ),
        (client.get("/iot/devices/Nope", headers=AGENT), 404, "DEVICE_NOT_FOUND"),
        (client.delete("/iot/devices/Nope", headers=AGENT), 404, "DEVICE_NOT_FOUND"),
        (
            client.post("/iot/devices", json={"devices": [{}]}, headers=AGENT),
            400,
            "MISSING_ATTRIBUTES",
        ),
        (client.post("/iot/devices", content=b"{", headers=AGENT), 400, "WRONG_SYNTAX"),
        (
            client.post("/iot/devices", json={"devices": [{"device_id": 3}]}, headers=AGENT),
            400,
            "WRONG_SYNTAX",
        ),
        (
            client.post(
                "/iot/services",
                json={"services": [{"apikey": "k-del", "resource": "/deviceTest"}]},
                headers=AGENT,
            ),
            409,
            "DUPLICATE_GROUP",
        ),
        (
            client.delete("/iot/services", params={"apikey": "nope"}, headers=AGENT),
            404,
            "DEVICE_GROUP_NOT_FOUND",
        ),
        (client.delete("/iot/services", headers=AGENT), 400, "MISSING_HEADERS"),
        (
            client.post(
                "/iot/services", json={"services": [{}]}, headers={"fiware-service": "bad service"}
            ),
            400,
            "BAD_REQUEST",
        ),
    ]
    for answer, status, name in cases:
        assert answer.status_code == status, answer.text
        body = answer.json()
        assert body["name"] == name, body
        assert body["message"] == body["detail"] and body["status"] == status  # still a problem
        assert body["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")
