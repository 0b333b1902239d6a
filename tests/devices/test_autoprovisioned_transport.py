"""An autoprovisioned device of a config group that names no transport gets its commands on
the transport its first message came on, as the IoT Agents set it."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
FIRM = {"fiware-service": "bells", "fiware-servicepath": "/"}
TENANT = {"NGSILD-Tenant": "bells"}


def test_an_autoprovisioned_http_device_polls_for_its_commands(client: TestClient) -> None:
    group = {
        "apikey": "kb",
        "resource": "/iot/d",
        "entity_type": "Bell",
        "attributes": [{"object_id": "v", "name": "volume", "type": "Integer"}],
        "commands": [{"name": "ring", "type": "command"}],
    }
    assert client.post("/iot/services", json={"services": [group]}, headers=FIRM).status_code == 201
    first = client.post("/iot/d?k=kb&i=b1&getCmd=1", content=b"v|1")
    assert first.status_code == 200 and first.text == ""
    assert client.get("/iot/devices/b1", headers=FIRM).json()["transport"] == "HTTP"
    bell = f"{E}/urn:ngsi-ld:Bell:b1"
    sent = client.patch(f"{bell}/attrs/ring", json={"value": {"volume": 8}}, headers=TENANT)
    assert sent.status_code == 204, sent.text
    assert client.get(bell, headers=TENANT).json()["ring_status"]["value"] == "PENDING"
    polled = client.post("/iot/d?k=kb&i=b1&getCmd=1", content=b"v|2")
    assert polled.text == "b1@ring|volume=8"
    assert client.get(bell, headers=TENANT).json()["ring_status"]["value"] == "DELIVERED"


def test_a_group_transport_is_kept_for_its_autoprovisioned_devices(client: TestClient) -> None:
    group = {"apikey": "km", "resource": "/iot/d", "transport": "MQTT", "entity_type": "Bell"}
    assert client.post("/iot/services", json={"services": [group]}, headers=FIRM).status_code == 201
    assert client.post("/iot/d?k=km&i=b2", content=b"v|1").status_code == 200
    assert "transport" not in client.get("/iot/devices/b2", headers=FIRM).json()
