"""Multi-entity attributes: a mapping with `entity_name` writes its measure to that entity, as
the IoT Agents do (`testCases.js` 0600, 0620, 0433)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.testclient import TestClient

from tests.devices.conftest import publish, wait_for

E = "/ngsi-ld/v1/entities"
MULTI = {"fiware-service": "multi", "fiware-servicepath": "/"}
TENANT = {"NGSILD-Tenant": "multi"}
OTHER = "urn:ngsi-ld:TestType:TestType:TestDevice2"  # the agents' id of "TestType:TestDevice2"


def group(apikey: str, attributes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"apikey": apikey, "entity_type": "TestType", "attributes": attributes, **extra}


STATUS = {"object_id": "s", "name": "status", "type": "Boolean"}
ELSEWHERE = {
    "object_id": "t",
    "name": "temperature",
    "type": "Number",
    "entity_name": "TestType:TestDevice2",
    "entity_type": "TestType",
}


def test_an_attribute_with_an_entity_name_goes_to_that_entity(client: TestClient) -> None:
    body = {"services": [group("k-multi", [STATUS, ELSEWHERE], resource="/iot/json")]}
    assert client.post("/iot/services", json=body, headers=MULTI).status_code == 201
    sent = client.post("/iot/json?k=k-multi&i=TestDevice", content=b'{"s": false, "t": 10}')
    assert sent.status_code == 200, sent.text
    own = client.get(f"{E}/urn:ngsi-ld:TestType:TestDevice", headers=TENANT).json()
    assert own["status"]["value"] is False and "temperature" not in own
    other = client.get(f"{E}/{OTHER}", headers=TENANT).json()
    assert other["type"] == "TestType" and other["temperature"]["value"] == 10
    assert "status" not in other


def test_an_entity_name_is_an_expression_over_the_message(client: TestClient) -> None:
    computed = {**ELSEWHERE, "entity_name": 'type+":"+(t*2*static_a)'}
    statics = [{"name": "static_a", "type": "Number", "value": 3}]
    body = {
        "services": [
            group("k-multi-x", [STATUS, computed], resource="/iot/json", static_attributes=statics)
        ]
    }
    assert client.post("/iot/services", json=body, headers=MULTI).status_code == 201
    sent = client.post("/iot/json?k=k-multi-x&i=TestDevice", content=b'{"s": true, "t": 10}')
    assert sent.status_code == 200, sent.text
    other = client.get(f"{E}/urn:ngsi-ld:TestType:TestType:60", headers=TENANT).json()
    assert other["temperature"]["value"] == 10 and "static_a" not in other
    own = client.get(f"{E}/urn:ngsi-ld:TestType:TestDevice", headers=TENANT).json()
    assert own["static_a"]["value"] == 3 and "temperature" not in own


def test_time_instant_mapped_to_another_entity_is_its_observation_time(client: TestClient) -> None:
    def clock(n: int) -> dict[str, Any]:
        return {
            "object_id": f"mydatetime{n}",
            "name": "TimeInstant",
            "type": "DateTime",
            "entity_name": f"TestType:TestDevice{n}",
            "entity_type": "TestType",
        }

    def copy(n: int) -> dict[str, Any]:
        return {
            "object_id": f"a{n}",
            "name": f"a{n}",
            "type": "Text",
            "expression": "a",
            "entity_name": f"TestType:TestDevice{n}",
            "entity_type": "TestType",
        }

    mapped = [{"object_id": "a", "name": "a", "type": "Text"}, clock(1), clock(2), copy(1), copy(2)]
    body = {"services": [group("k-multi-t", mapped, resource="/iot/json", timestamp=True)]}
    assert client.post("/iot/services", json=body, headers=MULTI).status_code == 201
    measure = (
        b'{"a": 23, "mydatetime1": "2011-01-01T01:11:11.111Z", '
        b'"mydatetime2": "2022-02-02T02:22:22.222Z"}'
    )
    assert client.post("/iot/json?k=k-multi-t&i=TestDevice", content=measure).status_code == 200
    one = client.get(f"{E}/urn:ngsi-ld:TestType:TestType:TestDevice1", headers=TENANT).json()
    two = client.get(f"{E}/urn:ngsi-ld:TestType:TestType:TestDevice2", headers=TENANT).json()
    assert one["a1"]["observedAt"] == "2011-01-01T01:11:11.111Z" and "TimeInstant" not in one
    assert two["a2"]["observedAt"] == "2022-02-02T02:22:22.222Z" and "TimeInstant" not in two
    own = client.get(f"{E}/urn:ngsi-ld:TestType:TestDevice", headers=TENANT).json()
    assert own["a"]["value"] == 23 and "a1" not in own and "TimeInstant" not in own
    assert own["a"]["observedAt"] not in ("2011-01-01T01:11:11.111Z", "2022-02-02T02:22:22.222Z")


def test_multi_entity_on_commands_or_without_a_name_is_refused(client: TestClient) -> None:
    command = {"name": "ring", "entity_name": "Bell1"}
    body = {"services": [group("k-multi-c", [], commands=[command])]}
    refused = client.post("/iot/services", json=body, headers=MULTI)
    assert refused.status_code == 400 and "commands[0].entity_name" in refused.json()["detail"]
    typed = {"object_id": "t", "name": "temperature", "entity_type": "Room"}
    body = {"services": [group("k-multi-c", [typed])]}
    refused = client.post("/iot/services", json=body, headers=MULTI)
    assert refused.status_code == 400 and "entity_name" in refused.json()["detail"]
    assert client.get("/iot/services", headers=MULTI).json()["count"] == 0


def test_multi_entity_attributes_over_mqtt(gateway: tuple[TestClient, int]) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    body = {"services": [group(apikey, [STATUS, ELSEWHERE])]}
    assert client.post("/iot/services", json=body).status_code == 201
    publish(port, f"/{apikey}/TestDevice/attrs", b"s|true|t|12")
    other = wait_for(client, f"{E}/{OTHER}", lambda e: "temperature" in e)
    assert other["temperature"]["value"] == 12
    own = wait_for(client, f"{E}/urn:ngsi-ld:TestType:TestDevice", lambda e: "status" in e)
    assert own["status"]["value"] is True and "temperature" not in own
