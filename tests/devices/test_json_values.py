"""UltraLight values of `Object` and `Array` attributes are read as JSON, as the IoT Agents'
NGSI-LD conversion parses them (iotagent-ul httpBindings "multiple differents format types")."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from tests.devices.conftest import publish, wait_for

E = "/ngsi-ld/v1/entities"
SERVICE = {"fiware-service": "formats", "fiware-servicepath": "/"}
TENANT = {"NGSILD-Tenant": "formats"}
ATTRIBUTES = [
    {"object_id": "configuration", "name": "configuration", "type": "Object"},
    {"object_id": "tags", "name": "tags", "type": "Array"},
]
PAYLOAD = b'configuration|{"firmware":{"version":"1.1.0"}}|tags|["iot","device"]'


def test_ultralight_object_and_array_values_are_json(client: TestClient) -> None:
    group = {
        "apikey": "k-formats",
        "resource": "/iot/d",
        "entity_type": "AnMQTTDevice",
        "attributes": ATTRIBUTES,
    }
    created = client.post("/iot/services", json={"services": [group]}, headers=SERVICE)
    assert created.status_code == 201, created.text
    sent = client.post("/iot/d?k=k-formats&i=HTTP_2", content=PAYLOAD)
    assert sent.status_code == 200, sent.text
    url = f"{E}/urn:ngsi-ld:AnMQTTDevice:HTTP_2?options=keyValues"
    entity = client.get(url, headers=TENANT).json()
    assert entity["configuration"] == {"firmware": {"version": "1.1.0"}}
    assert entity["tags"] == ["iot", "device"]
    # text that is no JSON stays text, as with the agents
    assert client.post("/iot/d?k=k-formats&i=HTTP_2", content=b"tags|iot").status_code == 200
    assert client.get(url, headers=TENANT).json()["tags"] == "iot"


def test_ultralight_object_values_over_mqtt_are_json(gateway: tuple[TestClient, int]) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    group = {"apikey": apikey, "entity_type": "AnMQTTDevice", "attributes": ATTRIBUTES}
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201
    publish(port, f"/ul/{apikey}/MQTT_2/attrs", PAYLOAD)
    url = f"{E}/urn:ngsi-ld:AnMQTTDevice:MQTT_2?options=keyValues"
    entity = wait_for(client, url, lambda e: "tags" in e)
    assert entity["configuration"] == {"firmware": {"version": "1.1.0"}}
    assert entity["tags"] == ["iot", "device"]
