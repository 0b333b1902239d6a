"""`GET /iot/devices` names the entity each device writes to (`entity_name`, `entity_type`),
also for a device provisioned without them or autoprovisioned, as the IoT Agents fill them in
when a device is registered."""

from __future__ import annotations

from starlette.testclient import TestClient

FIRM = {"fiware-service": "acmesense"}


def test_a_device_provisioned_without_entity_name_shows_its_entity(client: TestClient) -> None:
    """iotagent-node-lib `registerDevice`: a device without a name gets `type:id` ("falling
    back to deviceType:deviceId"), its type from the group; a script finds its entity."""
    group = {"apikey": "k-ent", "resource": "/iot/d", "entity_type": "AirQualityObserved"}
    assert client.post("/iot/services", json={"services": [group]}, headers=FIRM).status_code == 201
    device = {"device_id": "ps-002", "entity_type": "ParkingSpot", "apikey": "k-ent"}
    assert client.post("/iot/devices", json={"devices": [device]}, headers=FIRM).status_code == 201
    shown = client.get("/iot/devices/ps-002", headers=FIRM).json()
    assert shown["entity_name"] == "urn:ngsi-ld:ParkingSpot:ps-002"
    assert shown["entity_type"] == "ParkingSpot"
    assert client.post("/iot/d?k=k-ent&i=aq-002", content=b"p10|22").status_code == 200
    listed = {d["device_id"]: d for d in client.get("/iot/devices", headers=FIRM).json()["devices"]}
    assert listed["aq-002"]["entity_name"] == "urn:ngsi-ld:AirQualityObserved:aq-002"
    assert listed["aq-002"]["entity_type"] == "AirQualityObserved"
    entity = client.get(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:aq-002",
        headers={"NGSILD-Tenant": "acmesense"},
    )
    assert entity.status_code == 200
