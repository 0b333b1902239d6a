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
