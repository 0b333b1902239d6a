"""What a device's message does to its entity, as an IoT Agent's update would."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
SMART = {"fiware-service": "smart", "fiware-servicepath": "/"}
TENANT = {"NGSILD-Tenant": "smart"}


def provision_group(client: TestClient, **extra: object) -> None:
    group = {
        "apikey": "k-m",
        "resource": "/iot/d",
        "entity_type": "M",
        "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
        **extra,
    }
    response = client.post("/iot/services", json={"services": [group]}, headers=SMART)
    assert response.status_code == 201, response.text


def test_a_refused_message_provisions_no_device_and_creates_no_entity(client: TestClient) -> None:
    provision_group(client, static_attributes=[{"name": "owner", "type": "Text", "value": "a"}])
    for body in (b"t|notanumber", b"t|1#t|abc"):
        refused = client.post("/iot/d?k=k-m&i=m4", content=body)
        assert refused.status_code == 400, refused.text
    assert client.get("/iot/devices/m4", headers=SMART).status_code == 404
    assert client.get(f"{E}/urn:ngsi-ld:M:m4", headers=TENANT).status_code == 404
    # the first good message provisions it
    assert client.post("/iot/d?k=k-m&i=m4", content=b"t|1").status_code == 200
    assert client.get("/iot/devices/m4", headers=SMART).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:m4", headers=TENANT).json()
    assert entity["temperature"]["value"] == 1 and entity["owner"]["value"] == "a"


def test_static_attributes_reach_an_existing_entity_with_every_measure(client: TestClient) -> None:
    provision_group(client)
    device = {"device_id": "th1", "apikey": "k-m", "entity_type": "M"}
    assert client.post("/iot/devices", json={"devices": [device]}, headers=SMART).status_code == 201
    assert client.post("/iot/d?k=k-m&i=th1", content=b"t|11").status_code == 200
    statics = [{"name": "serialID", "type": "Text", "value": "02598347"}]
    changed = client.put("/iot/devices/th1", json={"static_attributes": statics}, headers=SMART)
    assert changed.status_code == 204, changed.text
    group = {"static_attributes": [{"name": "owner", "type": "Text", "value": "acme"}]}
    params = {"apikey": "k-m", "resource": "/iot/d"}
    assert client.put("/iot/services", params=params, json=group, headers=SMART).status_code == 204
    assert client.post("/iot/d?k=k-m&i=th1", content=b"t|12").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:th1", headers=TENANT).json()
    assert entity["serialID"]["value"] == "02598347" and entity["owner"]["value"] == "acme"
    # deleted from the entity, a static attribute comes back with the next measure
    deleted = client.delete(f"{E}/urn:ngsi-ld:M:th1/attrs/owner", headers=TENANT)
    assert deleted.status_code == 204
    assert client.post("/iot/d?k=k-m&i=th1", content=b"t|13").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:th1", headers=TENANT).json()
    assert entity["owner"]["value"] == "acme" and entity["temperature"]["value"] == 13


def test_a_measure_wins_over_a_static_attribute_of_the_same_name(client: TestClient) -> None:
    provision_group(
        client, static_attributes=[{"name": "temperature", "type": "Number", "value": 0}]
    )
    assert client.post("/iot/d?k=k-m&i=th2", content=b"t|7").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:th2", headers=TENANT).json()
    assert entity["temperature"]["value"] == 7
