"""One API key with an UltraLight group (`/iot/d`) and a JSON group (`/iot/json`): an MQTT
message is read with the group of its payload, as each IoT Agent's MQTT binding takes the
group of its own resource."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from tests.devices.conftest import publish, wait_for

E = "/ngsi-ld/v1/entities"


def two_groups(client: TestClient, apikey: str) -> None:
    ul = {
        "apikey": apikey,
        "resource": "/iot/d",
        "entity_type": "AirQualityObserved",
        "attributes": [{"object_id": "p10", "name": "pm10", "type": "Number"}],
    }
    js = {
        "apikey": apikey,
        "resource": "/iot/json",
        "entity_type": "ParkingSpot",
        "attributes": [{"object_id": "b", "name": "batteryLevel", "type": "Number"}],
    }
    for group in (ul, js):
        assert client.post("/iot/services", json={"services": [group]}).status_code == 201


def test_ultralight_and_json_over_mqtt_take_their_own_groups(
    gateway: tuple[TestClient, int],
) -> None:
    """docs/testbed.md: a group's `resource` is `/iot/d` for UltraLight, `/iot/json` for
    JSON; UltraLight was read with the JSON group (wrong type, `p10` unmapped, as text)."""
    client, port = gateway
    key = f"k{uuid.uuid4().hex[:10]}"
    two_groups(client, key)
    publish(port, f"/{key}/m-plain/attrs", b"p10|51")
    publish(port, f"/ul/{key}/m-ul/attrs", b"p10|52")
    publish(port, f"/json/{key}/m-json/attrs", b'{"b": 53}')
    plain = wait_for(client, f"{E}/urn:ngsi-ld:AirQualityObserved:m-plain", lambda e: "pm10" in e)
    assert plain["pm10"]["value"] == 51 and "p10" not in plain
    ul = wait_for(client, f"{E}/urn:ngsi-ld:AirQualityObserved:m-ul", lambda e: "pm10" in e)
    assert ul["pm10"]["value"] == 52
    js = wait_for(client, f"{E}/urn:ngsi-ld:ParkingSpot:m-json", lambda e: "batteryLevel" in e)
    assert js["batteryLevel"]["value"] == 53


def test_a_provisioned_ultralight_device_keeps_its_mapping_over_mqtt(
    gateway: tuple[TestClient, int],
) -> None:
    client, port = gateway
    key = f"k{uuid.uuid4().hex[:10]}"
    two_groups(client, key)
    device = {"device_id": "aq-001", "apikey": key, "entity_type": "AirQualityObserved"}
    assert client.post("/iot/devices", json={"devices": [device]}).status_code == 201
    publish(port, f"/{key}/aq-001/attrs", b"p10|116")
    entity = wait_for(client, f"{E}/urn:ngsi-ld:AirQualityObserved:aq-001", lambda e: "pm10" in e)
    assert entity["pm10"]["value"] == 116 and "p10" not in entity
