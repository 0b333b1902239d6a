"""A measure mapped to `TimeInstant` is its group's observation time, as the IoT Agents'
"TimeInstant and Timestamp flag" rules say: over a `TimeInstant` the message carries, and
never an attribute of the entity."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from tests.devices.conftest import publish, wait_for

E = "/ngsi-ld/v1/entities"
CLOCK = {"fiware-service": "clock", "fiware-servicepath": "/"}
TENANT = {"NGSILD-Tenant": "clock"}


def clock_group(
    client: TestClient,
    apikey: str,
    resource: str,
    mapping: dict[str, str],
    headers: dict[str, str] = CLOCK,
) -> None:
    group = {
        "apikey": apikey,
        "resource": resource,
        "timestamp": True,
        "entity_type": "TestType",
        "attributes": [{**mapping, "name": "TimeInstant", "type": "DateTime"}],
    }
    response = client.post("/iot/services", json={"services": [group]}, headers=headers)
    assert response.status_code == 201, response.text


def test_a_json_measure_mapped_to_time_instant_is_the_observation_time(client: TestClient) -> None:
    clock_group(client, "k-clock", "/iot/json", {"object_id": "mydatetime"})
    body = b'{"mydatetime": "2022-02-02T02:22:22.222Z", "a": 23}'
    assert client.post("/iot/json?k=k-clock&i=d1", content=body).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:TestType:d1", headers=TENANT).json()
    assert "TimeInstant" not in entity and "mydatetime" not in entity
    assert entity["a"] == {
        "type": "Property",
        "value": 23,
        "observedAt": "2022-02-02T02:22:22.222Z",
    }
    # the mapping wins over the message's own TimeInstant
    body = (
        b'{"mydatetime": "2022-02-02T02:22:23.222Z", "a": 24, '
        b'"TimeInstant": "2033-03-03T03:33:33.333Z"}'
    )
    assert client.post("/iot/json?k=k-clock&i=d1", content=body).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:TestType:d1", headers=TENANT).json()
    assert entity["a"]["observedAt"] == "2022-02-02T02:22:23.222Z"
    assert "TimeInstant" not in entity


def test_an_ultralight_alias_of_time_instant_is_the_observation_time(client: TestClient) -> None:
    clock_group(client, "k-ul-clock", "/iot/d", {"object_id": "tt"})
    body = b"tmp|24.4|tt|2016-09-26T12:19:26.476659Z"
    assert client.post("/iot/d?k=k-ul-clock&i=d2", content=body).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:TestType:d2", headers=TENANT).json()
    assert "TimeInstant" not in entity and "tt" not in entity
    assert entity["tmp"]["observedAt"] == "2016-09-26T12:19:26.476659Z"


def test_a_measure_mapped_to_time_instant_over_mqtt(gateway: tuple[TestClient, int]) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    clock_group(client, apikey, "", {"object_id": "tt"}, headers={})  # the default tenant
    publish(port, f"/ul/{apikey}/d3/attrs", b"tmp|24.4|tt|2016-09-26T12:19:26Z")
    entity = wait_for(client, f"{E}/urn:ngsi-ld:TestType:d3", lambda e: "tmp" in e)
    assert "TimeInstant" not in entity and "tt" not in entity
    assert entity["tmp"]["observedAt"] == "2016-09-26T12:19:26Z"


def test_the_mapping_wins_over_an_ultralight_group_timestamp(client: TestClient) -> None:
    clock_group(client, "k-ul-prefix", "/iot/d", {"object_id": "tt"})
    body = b"2001-01-01T00:00:00Z|tmp|1|tt|2016-09-26T12:19:26Z"
    assert client.post("/iot/d?k=k-ul-prefix&i=d4", content=body).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:TestType:d4", headers=TENANT).json()
    assert entity["tmp"]["observedAt"] == "2016-09-26T12:19:26Z"


def test_a_time_instant_attribute_given_by_an_expression_is_the_observation_time(
    client: TestClient,
) -> None:
    group = {  # testCases.js 0432, with an expression that gives a time
        "apikey": "k-exp-clock",
        "resource": "/iot/d",
        "entity_type": "TestType",
        "attributes": [
            {"name": "TimeInstant", "type": "DateTime", "expression": "day + 'T10:00:00Z'"}
        ],
    }
    created = client.post("/iot/services", json={"services": [group]}, headers=CLOCK)
    assert created.status_code == 201, created.text
    body = b"2001-01-01T00:00:00Z|tmp|1|day|2020-05-05"
    assert client.post("/iot/d?k=k-exp-clock&i=d5", content=body).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:TestType:d5", headers=TENANT).json()
    assert "TimeInstant" not in entity
    assert entity["tmp"]["observedAt"] == "2020-05-05T10:00:00Z"
