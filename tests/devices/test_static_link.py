"""The IoT Agents' NGSI-LD `link` member of a static attribute is accepted (and kept), so a
FIWARE NGSI-LD provisioning body works as it is."""

from __future__ import annotations

from starlette.testclient import TestClient

FIRM = {"fiware-service": "openiot"}
LINKED = {
    "name": "controlledAsset",
    "type": "Relationship",
    "value": "urn:ngsi-ld:Building:barn001",
    "link": {"attributes": ["temperature"], "name": "providedBy", "type": "Building"},
}


def test_a_static_attribute_with_a_link_is_provisioned(client: TestClient) -> None:
    """iotagent-node-lib, "NGSI-LD Linked Data support": `static_attributes` may be supplied
    with an additional `link` data element; it was a 400 (extra inputs not permitted)."""
    group = {
        "apikey": "k-link",
        "entity_type": "Device",
        "resource": "/iot/d",
        "protocol": "PDI-IoTA-UltraLight",
        "attributes": [{"object_id": "l", "name": "temperature", "type": "Float"}],
        "static_attributes": [LINKED],
    }
    created = client.post("/iot/services", json={"services": [group]}, headers=FIRM)
    assert created.status_code == 201, created.text
    device = {"device_id": "barn-t1", "apikey": "k-link", "static_attributes": [LINKED]}
    created = client.post("/iot/devices", json={"devices": [device]}, headers=FIRM)
    assert created.status_code == 201, created.text
    shown = client.get("/iot/devices/barn-t1", headers=FIRM).json()
    assert shown["static_attributes"][0]["link"] == LINKED["link"]
    sent = client.post("/iot/d?k=k-link&i=barn-t1", content=b"l|21.5")
    assert sent.status_code == 200, sent.text
