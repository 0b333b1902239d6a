"""The IoT Agent provisioning API and HTTP southbound, as FIWARE devices and scripts use them."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from dalgu.devices.service import Message

E = "/ngsi-ld/v1/entities"
ACME = {"fiware-service": "acme", "fiware-servicepath": "/gardens"}
TENANT = {"NGSILD-Tenant": "acme"}


def provision_group(client: TestClient, **extra: object) -> None:
    group = {
        "apikey": "k1",
        "resource": "/iot/d",
        "entity_type": "Thing",
        "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
        **extra,
    }
    response = client.post("/iot/services", json={"services": [group]}, headers=ACME)
    assert response.status_code == 201, response.text


def test_ultralight_measures_over_http_update_the_device_entity(client: TestClient) -> None:
    provision_group(client)
    sent = client.post(
        "/iot/d?k=k1&i=dev1", content=b"t|21.5|h|40", headers={"Content-Type": "text/plain"}
    )
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:Thing:dev1", headers=TENANT).json()
    observed = entity["temperature"].pop("observedAt")  # the arrival time: no device time
    assert entity["temperature"] == {"type": "Property", "value": 21.5}
    assert entity["h"] == {"type": "Property", "value": 40, "observedAt": observed}
    # GET with the payload in d and a device timestamp
    stamp = "2026-11-25T08:00:00Z"
    got = client.get("/iot/d", params={"k": "k1", "i": "dev1", "d": "t|22", "t": stamp})
    assert got.status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:Thing:dev1", headers=TENANT).json()
    assert entity["temperature"] == {"type": "Property", "value": 22.0, "observedAt": stamp}
    # autoprovisioned, in its group's tenant only
    assert client.get(f"{E}/urn:ngsi-ld:Thing:dev1").status_code == 404
    listed = client.get("/iot/devices", headers=ACME).json()
    assert listed["count"] == 1 and listed["devices"][0]["device_id"] == "dev1"


def test_provisioned_device_with_static_attributes_and_json_payload(client: TestClient) -> None:
    provision_group(client, resource="/iot/json", apikey="kj")
    device = {
        "device_id": "motion001",
        "apikey": "kj",
        "entity_name": "urn:ngsi-ld:Motion:001",
        "entity_type": "Motion",
        "attributes": [{"object_id": "c", "name": "count", "type": "Integer"}],
        "static_attributes": [
            {"name": "refStore", "type": "Relationship", "value": "urn:ngsi-ld:Store:001"}
        ],
    }
    created = client.post("/iot/devices", json={"devices": [device]}, headers=ACME)
    assert created.status_code == 201, created.text
    entity = client.get(f"{E}/urn:ngsi-ld:Motion:001", headers=TENANT).json()
    assert entity["refStore"] == {"type": "Relationship", "object": "urn:ngsi-ld:Store:001"}
    body = b'[{"c": 1}, {"c": 2, "TimeInstant": "2026-11-25T08:00:05Z"}]'
    sent = client.post("/iot/json?k=kj&i=motion001", content=body)
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:Motion:001", headers=TENANT).json()
    assert entity["count"] == {"type": "Property", "value": 2, "observedAt": "2026-11-25T08:00:05Z"}
    assert entity["refStore"]["object"] == "urn:ngsi-ld:Store:001"
    shown = client.get("/iot/devices/motion001", headers=ACME).json()
    assert shown["entity_name"] == "urn:ngsi-ld:Motion:001" and shown["service"] == "acme"
    changed = client.put(
        "/iot/devices/motion001",
        json={"attributes": [{"object_id": "c", "name": "visitors", "type": "Integer"}]},
        headers=ACME,
    )
    assert changed.status_code == 204
    client.post("/iot/json?k=kj&i=motion001", content=b'{"c": 5}')
    entity = client.get(f"{E}/urn:ngsi-ld:Motion:001", headers=TENANT).json()
    assert entity["visitors"]["value"] == 5
    renamed = client.put("/iot/devices/motion001", json={"device_id": "motion2"}, headers=ACME)
    assert renamed.status_code == 400  # entity_name and entity_type may change (test_device_update)
    assert client.delete("/iot/devices/motion001", headers=ACME).status_code == 204
    assert client.get("/iot/devices/motion001", headers=ACME).status_code == 404


def test_groups_can_be_listed_changed_and_removed(client: TestClient) -> None:
    provision_group(client)
    again = client.post(
        "/iot/services", json={"services": [{"apikey": "k1", "resource": "/iot/d"}]}, headers=ACME
    )
    assert again.status_code == 409
    listed = client.get("/iot/services", headers=ACME).json()
    assert listed["count"] == 1 and listed["services"][0]["entity_type"] == "Thing"
    params = {"apikey": "k1", "resource": "/iot/d"}
    changed = client.put(
        "/iot/services", params=params, json={"autoprovision": False}, headers=ACME
    )
    assert changed.status_code == 204
    refused = client.post("/iot/d?k=k1&i=stranger", content=b"t|1")
    assert refused.status_code == 404
    assert client.delete("/iot/services", params=params, headers=ACME).status_code == 204
    assert client.delete("/iot/services", params=params, headers=ACME).status_code == 404


def test_a_device_without_an_apikey_from_itself_or_a_group_is_refused_whole_batch(
    client: TestClient,
) -> None:
    devices = [
        {"device_id": "ok1", "apikey": "k9", "entity_type": "Thing"},
        {"device_id": "lost", "entity_type": "Thing"},  # no apikey, no group in /gardens
    ]
    refused = client.post("/iot/devices", json={"devices": devices}, headers=ACME)
    assert refused.status_code == 400, refused.text
    assert "lost" in refused.json()["detail"] and "apikey" in refused.json()["detail"]
    # nothing of the batch was stored: neither device, nor an entity for either
    assert client.get("/iot/devices", headers=ACME).json()["count"] == 0
    assert client.get(f"{E}?type=Thing", headers=TENANT).json() == []
    # with a group, the same device takes the group's apikey
    provision_group(client)
    assert client.post("/iot/devices", json={"devices": devices}, headers=ACME).status_code == 201
    assert client.get("/iot/devices/lost", headers=ACME).json()["apikey"] == "k1"


def test_a_message_from_a_device_id_that_cannot_be_one_is_400_and_provisions_nothing(
    client: TestClient,
) -> None:
    provision_group(client)  # autoprovisions
    for device_id in ("a/b", "/", "dev#1", "+"):
        refused = client.post("/iot/d", params={"k": "k1", "i": device_id}, content=b"t|1")
        assert refused.status_code == 400, (device_id, refused.text)
        assert "device_id" in refused.json()["detail"]
    assert client.get("/iot/devices", headers=ACME).json()["count"] == 0
    assert client.post("/iot/d?k=k1&i=dev1", content=b"t|1").status_code == 200
    assert client.get("/iot/devices", headers=ACME).json()["count"] == 1


def test_bad_southbound_input_is_a_clear_client_error(client: TestClient) -> None:
    provision_group(client)
    unknown = client.post("/iot/d?k=nokey&i=dev1", content=b"t|1")
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("ResourceNotFound")
    garbled = client.post("/iot/d?k=k1&i=dev1", content=b"t|1|h")
    assert garbled.status_code == 400
    assert "at character 0" in garbled.json()["detail"]
    wrong_type = client.post("/iot/d?k=k1&i=dev1", content=b"t|warm")  # left out, not refused
    assert wrong_type.status_code == 200
    assert client.post("/iot/d?i=dev1", content=b"t|1").status_code == 400
    bad_json = client.post("/iot/json?k=k1&i=dev1", content=b'{"t": ')
    assert bad_json.status_code == 400
    bad_provisioning = client.post(
        "/iot/devices", json={"devices": [{"device_id": "d", "colour": "red"}]}, headers=ACME
    )
    assert bad_provisioning.status_code == 400
    assert "colour" in bad_provisioning.json()["detail"]
    assert client.get("/iot/devices", headers={"fiware-service": "bad service!"}).status_code == 400


def test_a_batch_of_messages_is_stored_in_order_and_refused_one_by_one(
    client: TestClient,
) -> None:
    provision_group(client)
    devices = client.app.state.dalgu.devices  # type: ignore[attr-defined]

    def ul(text: str) -> Any:
        from dalgu.gateway.ultralight import parse_measures

        return lambda: [(g.values, g.timestamp) for g in parse_measures(text)]

    outcomes = client.portal.call(  # type: ignore[attr-defined]
        devices.receive_batch,
        "mqtt",
        [
            Message("k1", "dev1", ul("t|1")),
            Message("k1", "dev1", ul("t|1|h")),  # an odd field: not UltraLight
            Message("nokey", "dev9", ul("t|5")),
            Message("k1", "dev1", ul("t|2")),
            Message("k1", "dev2", ul("t|7#t|8")),
        ],
    )
    assert [type(o).__name__ if o else None for o in outcomes] == [
        None,
        "PayloadError",
        "UnknownApiKey",  # a ResourceNotFound, which the MQTT southbound does not answer
        None,
        None,
    ]
    tenant = {"NGSILD-Tenant": "acme"}
    assert (
        client.get(f"{E}/urn:ngsi-ld:Thing:dev1", headers=tenant).json()["temperature"]["value"]
        == 2
    )
    assert (
        client.get(f"{E}/urn:ngsi-ld:Thing:dev2", headers=tenant).json()["temperature"]["value"]
        == 8
    )
    counts = devices.traffic.of("k1")
    assert counts["dev1"] == {"stored": 2, "BadRequestData": 1}


def test_the_fiware_tutorials_provisioning_works_as_written(client: TestClient) -> None:
    """The config group and devices of FIWARE's IoT Agent tutorials, unchanged: `cbroker`
    (the broker the agent would write to, Dalgu itself), commands with a `value`, and the
    measures of the motion sensor they provision."""
    headers = {"fiware-service": "openiot", "fiware-servicepath": "/"}
    group = {
        "apikey": "4jggokgpepnvsb2uv4s40d59ov",
        "cbroker": "http://orion:1026",
        "entity_type": "Thing",
        "resource": "/iot/d",
    }
    created = client.post("/iot/services", json={"services": [group]}, headers=headers)
    assert created.status_code == 201, created.text
    devices = [
        {
            "device_id": "motion001",
            "entity_name": "urn:ngsi-ld:Motion:001",
            "entity_type": "Motion",
            "timezone": "Europe/Berlin",
            "attributes": [{"object_id": "c", "name": "count", "type": "Integer"}],
            "static_attributes": [
                {"name": "refStore", "type": "Relationship", "value": "urn:ngsi-ld:Store:001"}
            ],
        },
        {
            "device_id": "bell001",
            "entity_name": "urn:ngsi-ld:Bell:001",
            "entity_type": "Bell",
            "protocol": "PDI-IoTA-UltraLight",
            "transport": "HTTP",
            "endpoint": "http://127.0.0.1:9/iot/bell001",
            "commands": [{"name": "ring", "type": "command", "value": ""}],
        },
    ]
    provisioned = client.post("/iot/devices", json={"devices": devices}, headers=headers)
    assert provisioned.status_code == 201, provisioned.text
    sent = client.post(
        "/iot/d?k=4jggokgpepnvsb2uv4s40d59ov&i=motion001",
        content=b"c|1",
        headers={"Content-Type": "text/plain"},
    )
    assert sent.status_code == 200, sent.text
    motion = client.get(f"{E}/urn:ngsi-ld:Motion:001", headers={"NGSILD-Tenant": "openiot"})
    assert motion.json()["count"]["value"] == 1
    bell = client.get(f"{E}/urn:ngsi-ld:Bell:001", headers={"NGSILD-Tenant": "openiot"})
    assert bell.json()["ring_status"]["value"] == "UNKNOWN"
    listed = client.get("/iot/services", headers=headers).json()["services"]
    assert listed[0]["cbroker"] == "http://orion:1026"


def test_a_config_group_takes_type_for_entity_type_as_the_agents_documentation_writes_it(
    client: TestClient,
) -> None:
    group = {"apikey": "kt", "resource": "/iot/d", "type": "Light", "cbHost": "http://orion:1026"}
    created = client.post("/iot/services", json={"services": [group]}, headers=ACME)
    assert created.status_code == 201, created.text
    client.post("/iot/d?k=kt&i=lamp1", content=b"l|3")
    assert client.get(f"{E}/urn:ngsi-ld:Light:lamp1", headers=TENANT).status_code == 200
    changed = client.put(
        "/iot/services",
        params={"apikey": "kt", "resource": "/iot/d"},
        json={"type": "Lamp"},
        headers=ACME,
    )
    assert changed.status_code == 204, changed.text
    client.post("/iot/d?k=kt&i=lamp2", content=b"l|4")
    assert client.get(f"{E}/urn:ngsi-ld:Lamp:lamp2", headers=TENANT).status_code == 200


def test_one_measure_posted_to_its_attribute_path_as_the_json_agent_takes_it(
    client: TestClient,
) -> None:
    provision_group(client, resource="/iot/json", apikey="kj")
    text = {"Content-Type": "text/plain"}
    sent = client.post("/iot/json/attrs/t?k=kj&i=j1", content=b"30", headers=text)
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:Thing:j1", headers=TENANT).json()
    assert entity["temperature"]["value"] == 30
    as_json = {"Content-Type": "application/json"}
    sent = client.post("/iot/json/attrs/pos?k=kj&i=j1", content=b'{"x": 1}', headers=as_json)
    assert sent.status_code == 200, sent.text
    binary = {"Content-Type": "application/octet-stream"}
    sent = client.post("/iot/json/attrs/raw?k=kj&i=j1", content=b"hello", headers=binary)
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:Thing:j1", headers=TENANT).json()
    assert entity["pos"]["value"] == {"x": 1} and entity["raw"]["value"] == "68656c6c6f"
    bad = client.post("/iot/json/attrs/t?k=kj&i=j1", content=b"{", headers=as_json)
    assert bad.status_code == 400


def test_groups_listed_as_the_agents_list_them(client: TestClient) -> None:
    for path, apikey in (("/park", "k-a"), ("/park", "k-b"), ("/road", "k-c")):
        headers = {"fiware-service": "acme", "fiware-servicepath": path}
        created = client.post("/iot/groups", json={"groups": [{"apikey": apikey}]}, headers=headers)
        assert created.status_code == 201, created.text
    every = {"fiware-service": "acme", "fiware-servicepath": "/*"}
    listed = client.get("/iot/groups", headers=every)
    assert listed.status_code == 200, listed.text
    assert sorted(g["apikey"] for g in listed.json()["groups"]) == ["k-a", "k-b", "k-c"]
    page = client.get("/iot/services", params={"limit": 1, "offset": 1}, headers=every).json()
    assert page["count"] == 3 and len(page["services"]) == 1
    park = {"fiware-service": "acme", "fiware-servicepath": "/park"}
    assert client.get("/iot/devices", headers=every).status_code == 200
    assert client.get("/iot/groups", headers=park).json()["count"] == 2


def test_southbound_refusals_carry_the_agents_names(client: TestClient) -> None:
    """Outside tester iota-8: a device harness written for the agents branches on `name`."""
    provision_group(client)
    cases = [
        ("/iot/d?i=z1", b"t|1", 400, "MANDATORY_PARAMS_NOT_FOUND"),
        ("/iot/d?k=nokey&i=z1", b"t|1", 404, "DEVICE_GROUP_NOT_FOUND"),
        ("/iot/d?k=k1&i=z1", b"t|1|h", 400, "PARSE_ERROR"),
    ]
    for url, body, status, name in cases:
        refused = client.post(url, content=body)
        assert refused.status_code == status, refused.text
        problem = refused.json()
        assert problem["name"] == name and problem["message"] == problem["detail"]
        assert problem["status"] == status  # still a ProblemDetails
