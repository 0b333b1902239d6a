"""Provisioning as an IoT Agent in NGSI-LD mode does it: entity names made URNs, and a request
that is refused stores nothing."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
GARDENS = {"fiware-service": "rep1", "fiware-servicepath": "/gardens"}
TENANT = {"NGSILD-Tenant": "rep1"}


def light_group(client: TestClient, apikey: str = "k-light") -> None:
    group = {"apikey": apikey, "resource": "/iot/d", "entity_type": "TheLightType"}
    response = client.post("/iot/services", json={"services": [group]}, headers=GARDENS)
    assert response.status_code == 201, response.text


def test_an_entity_name_that_is_no_urn_becomes_an_ngsi_ld_urn(client: TestClient) -> None:
    light_group(client)
    device = {
        "device_id": "Light1",
        "entity_name": "TheFirstLight",
        "entity_type": "TheLightType",
        "attributes": [{"object_id": "a", "name": "attr_name", "type": "Text"}],
    }
    created = client.post("/iot/devices", json={"devices": [device]}, headers=GARDENS)
    assert created.status_code == 201, created.text
    shown = client.get("/iot/devices/Light1", headers=GARDENS).json()
    assert shown["entity_name"] == "TheFirstLight"  # kept as provisioned
    sent = client.post("/iot/d?k=k-light&i=Light1", content=b"a|on")
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:TheLightType:TheFirstLight", headers=TENANT).json()
    assert entity["attr_name"]["value"] == "on"
    # a URN is kept as it is
    urn = {"device_id": "Light2", "entity_name": "urn:ngsi-ld:Lamp:L2", "entity_type": "Lamp"}
    assert client.post("/iot/devices", json={"devices": [urn]}, headers=GARDENS).status_code == 201
    assert client.post("/iot/d?k=k-light&i=Light2", content=b"a|off").status_code == 200
    assert client.get(f"{E}/urn:ngsi-ld:Lamp:L2", headers=TENANT).status_code == 200


def test_a_device_refused_for_its_entity_name_is_not_stored(client: TestClient) -> None:
    light_group(client)
    device = {"device_id": "Light1", "entity_name": "Second UL Device"}  # a space: no URI
    for _ in range(2):  # a retry is refused the same way, never a 409
        refused = client.post("/iot/devices", json={"devices": [device]}, headers=GARDENS)
        assert refused.status_code == 400, refused.text
        assert "entity_name" in refused.json()["detail"]
    assert client.get("/iot/devices/Light1", headers=GARDENS).status_code == 404
    # the device's messages meet an autoprovisioned device, not a broken one
    assert client.post("/iot/d?k=k-light&i=Light1", content=b"a|on").status_code == 200
    assert client.get(f"{E}/urn:ngsi-ld:TheLightType:Light1", headers=TENANT).status_code == 200


def test_a_batch_of_devices_with_a_duplicate_stores_none(client: TestClient) -> None:
    light_group(client)
    first = {"device_id": "Light1", "static_attributes": [{"name": "floor", "value": 2}]}
    assert (
        client.post("/iot/devices", json={"devices": [first]}, headers=GARDENS).status_code == 201
    )
    batch = [{"device_id": "Light2"}, {"device_id": "Light1"}, {"device_id": "Light3"}]
    refused = client.post("/iot/devices", json={"devices": batch}, headers=GARDENS)
    assert refused.status_code == 409, refused.text
    listed = client.get("/iot/devices", headers=GARDENS).json()
    assert [d["device_id"] for d in listed["devices"]] == ["Light1"]
    assert client.get(f"{E}/urn:ngsi-ld:TheLightType:Light2", headers=TENANT).status_code == 404
    twice = [{"device_id": "Light4"}, {"device_id": "Light4"}]
    refused = client.post("/iot/devices", json={"devices": twice}, headers=GARDENS)
    assert refused.status_code == 409, refused.text
    assert client.get("/iot/devices/Light4", headers=GARDENS).status_code == 404


def test_a_batch_of_groups_with_a_taken_one_stores_none(client: TestClient) -> None:
    light_group(client, "k-taken")
    batch = [
        {"apikey": "k-new", "resource": "/iot/d", "entity_type": "A"},
        {"apikey": "k-taken", "resource": "/iot/d", "entity_type": "B"},
    ]
    refused = client.post("/iot/services", json={"services": batch}, headers=GARDENS)
    assert refused.status_code == 409, refused.text
    listed = client.get("/iot/services", headers=GARDENS).json()
    assert [g["apikey"] for g in listed["services"]] == ["k-taken"]
    assert client.post("/iot/d?k=k-new&i=d1", content=b"a|1").status_code == 404


def test_a_group_whose_entities_could_never_be_written_is_refused(client: TestClient) -> None:
    batch = [
        {"apikey": "k-fine", "resource": "/iot/d", "entity_type": "Fine"},
        {"apikey": "k-spaced", "resource": "/iot/d", "entity_type": "My Type"},
    ]
    refused = client.post("/iot/services", json={"services": batch}, headers=GARDENS)
    assert refused.status_code == 400, refused.text
    assert "services[1].entity_type" in refused.json()["detail"]
    assert client.get("/iot/services", headers=GARDENS).json()["count"] == 0
    light_group(client, "k-fine")
    params = {"apikey": "k-fine", "resource": "/iot/d"}
    changed = client.put(
        "/iot/services", params=params, json={"entity_type": "a b"}, headers=GARDENS
    )
    assert changed.status_code == 400
    assert client.post("/iot/d?k=k-fine&i=d1", content=b"a|1").status_code == 200
