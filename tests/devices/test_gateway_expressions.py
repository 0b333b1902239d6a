"""JEXL expressions end to end: provisioned through the IoT Agent API, applied to measures
sent over HTTP and MQTT, read back through NGSI-LD, on both stores."""

from __future__ import annotations

import socket
import uuid

import aiocoap
from starlette.testclient import TestClient

from dalgu.settings import Settings
from tests.devices.conftest import publish, wait_for
from tests.devices.test_gateway_ports import coap
from tests.ports import free_port, serving

E = "/ngsi-ld/v1/entities"
ACME = {"fiware-service": "acme", "fiware-servicepath": "/gardens"}
TENANT = {"NGSILD-Tenant": "acme"}


def provision(client: TestClient, **group: object) -> None:
    body = {"services": [{"entity_type": "Bin", **group}]}
    response = client.post("/iot/services", json=body, headers=ACME)
    assert response.status_code == 201, response.text


def test_an_ultralight_measure_is_transformed_over_http(client: TestClient) -> None:
    provision(
        client,
        apikey="k1",
        resource="/iot/d",
        attributes=[
            {"object_id": "l", "name": "level", "type": "Number"},
            {"name": "fillingLevel", "type": "Number", "expression": "l / 100"},
            {"name": "label", "type": "Text", "expression": "id + '@' + subservice"},
        ],
    )
    sent = client.post(
        "/iot/d?k=k1&i=bin1", content=b"l|85", headers={"Content-Type": "text/plain"}
    )
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:Bin:bin1", headers=TENANT).json()
    assert entity["level"]["value"] == 85
    assert entity["fillingLevel"]["value"] == 0.85
    assert entity["label"]["value"] == "bin1@/gardens"


def test_a_json_measure_becomes_a_geoproperty_through_an_expression(client: TestClient) -> None:
    provision(
        client,
        apikey="kj",
        resource="/iot/json",
        attributes=[
            {
                "name": "location",
                "type": "geo:json",
                "expression": "{coordinates: [longitude, latitude], type: 'Point'}",
            },
            {"name": "latitude", "type": "Number"},
            {"name": "longitude", "type": "Number"},
        ],
        explicitAttrs="['location']",
    )
    body = b'{"latitude": 35.87, "longitude": 128.6, "noise": 3}'
    sent = client.post("/iot/json?k=kj&i=bin2", content=body)
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:Bin:bin2", headers=TENANT).json()
    assert entity["location"]["type"] == "GeoProperty"
    assert entity["location"]["value"] == {"type": "Point", "coordinates": [128.6, 35.87]}
    assert "latitude" not in entity and "noise" not in entity  # explicitAttrs picked location


def test_a_failing_expression_leaves_its_attribute_out_and_keeps_the_message(
    client: TestClient,
) -> None:
    provision(
        client,
        apikey="kf",
        resource="/iot/json",
        attributes=[
            {"object_id": "t", "name": "temperature", "type": "Number"},
            {"name": "parts", "type": "Text", "expression": "t|split(',')"},  # a number: fails
            {"name": "doubled", "type": "Number", "expression": "missing * 2"},  # NaN
        ],
    )
    sent = client.post("/iot/json?k=kf&i=bin3", content=b'{"t": 21}')
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:Bin:bin3", headers=TENANT).json()
    assert entity["temperature"]["value"] == 21
    assert "parts" not in entity and "doubled" not in entity


def test_entity_name_expression_names_the_entity_each_measure_updates(
    client: TestClient,
) -> None:
    provision(
        client,
        apikey="kn",
        resource="/iot/json",
        entityNameExp="'urn:ngsi-ld:Room:' + room",
        attributes=[{"object_id": "t", "name": "temperature", "type": "Number"}],
    )
    for room, t in (("r1", 20), ("r2", 22)):
        body = f'{{"room": "{room}", "t": {t}}}'.encode()
        assert client.post("/iot/json?k=kn&i=probe", content=body).status_code == 200
    r1 = client.get(f"{E}/urn:ngsi-ld:Room:r1", headers=TENANT).json()
    r2 = client.get(f"{E}/urn:ngsi-ld:Room:r2", headers=TENANT).json()
    assert (r1["type"], r1["temperature"]["value"]) == ("Bin", 20)
    assert r2["temperature"]["value"] == 22
    # the device's own entity is not created: its measures live where the expression says
    assert client.get(f"{E}/urn:ngsi-ld:Bin:probe", headers=TENANT).status_code == 404


def test_an_invalid_expression_is_refused_when_provisioned(client: TestClient) -> None:
    group = {
        "apikey": "kx",
        "attributes": [{"name": "a", "type": "Number", "expression": "a * (2 +"}],
    }
    refused = client.post("/iot/services", json={"services": [group]}, headers=ACME)
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert detail.startswith("services[0].attributes[0].expression is not a valid JEXL")
    assert "at position 8" in detail
    device = {"device_id": "d1", "apikey": "kx", "attributes": [{"name": "a", "expression": "a|x"}]}
    refused = client.post("/iot/devices", json={"devices": [device]}, headers=ACME)
    assert refused.status_code == 400
    assert "devices[0].attributes[0].expression" in refused.json()["detail"]
    assert "unknown transform 'x' at position 2" in refused.json()["detail"]


def test_an_expression_changed_through_the_api_applies_to_the_next_message(
    client: TestClient,
) -> None:
    attribute = {"object_id": "t", "name": "temperature", "type": "Number", "expression": "t"}
    provision(client, apikey="kc", resource="/iot/json", attributes=[attribute])
    client.post("/iot/json?k=kc&i=bin4", content=b'{"t": 20}')
    fahrenheit = {**attribute, "expression": "t * 9 / 5 + 32"}
    changed = client.put(
        "/iot/services",
        params={"apikey": "kc", "resource": "/iot/json"},
        json={"attributes": [fahrenheit]},
        headers=ACME,
    )
    assert changed.status_code == 204, changed.text
    client.post("/iot/json?k=kc&i=bin4", content=b'{"t": 20}')
    entity = client.get(f"{E}/urn:ngsi-ld:Bin:bin4", headers=TENANT).json()
    assert entity["temperature"]["value"] == 68


def test_expressions_apply_to_measures_published_over_mqtt(gateway: tuple[TestClient, int]) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    group = {
        "apikey": apikey,
        "entity_type": "Sensor",
        "attributes": [
            {"object_id": "t", "name": "temperature", "type": "Number", "expression": "t * 10"},
            {"object_id": "s", "name": "status", "type": "Text", "expression": "s|touppercase"},
        ],
    }
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201
    publish(port, f"/{apikey}/dev1/attrs", b"t|2.15|s|ok")
    url = f"{E}/urn:ngsi-ld:Sensor:dev1"
    entity = wait_for(client, url, lambda e: "temperature" in e)
    assert entity["temperature"]["value"] == 21.5  # "2.15" * 10 in JavaScript
    assert entity["status"]["value"] == "OK"
    publish(port, f"/json/{apikey}/dev1/attrs", b'{"t": 3, "s": "late"}')
    entity = wait_for(client, url, lambda e: e.get("status", {}).get("value") == "LATE")
    assert entity["temperature"]["value"] == 30


def test_an_expression_may_give_the_measures_time(client: TestClient) -> None:
    provision(
        client,
        apikey="kt",
        resource="/iot/json",
        attributes=[
            {"object_id": "t", "name": "temperature", "type": "Number"},
            {"name": "TimeInstant", "type": "DateTime", "expression": "ts|toisodate"},
        ],
    )
    body = b'{"t": 19, "ts": 1637245214901}'
    assert client.post("/iot/json?k=kt&i=bin5", content=body).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:Bin:bin5", headers=TENANT).json()
    assert entity["temperature"]["observedAt"] == "2021-11-18T14:20:14.901Z"
    assert "TimeInstant" not in entity


def test_a_computed_value_the_broker_refuses_leaves_only_its_attribute_out(
    client: TestClient,
) -> None:
    provision(
        client,
        apikey="kg",
        resource="/iot/json",
        attributes=[
            {"object_id": "t", "name": "temperature", "type": "Number"},
            {
                "name": "location",
                "type": "geo:json",
                "expression": "{coordinates: [longitude, latitude], type: 'Point'}",
            },
        ],
    )
    sent = client.post("/iot/json?k=kg&i=bin6", content=b'{"t": 4, "latitude": 35.87}')
    assert sent.status_code == 200, sent.text  # no longitude: [null, 35.87] is no geometry
    entity = client.get(f"{E}/urn:ngsi-ld:Bin:bin6", headers=TENANT).json()
    assert entity["temperature"]["value"] == 4 and "location" not in entity


def test_expressions_apply_to_measures_sent_over_coap(settings: Settings) -> None:
    apikey = f"k{uuid.uuid4().hex[:8]}"
    with serving(settings, lambda: {"coap_port": free_port(socket.SOCK_DGRAM)}) as (
        client,
        configured,
    ):
        group = {
            "apikey": apikey,
            "entity_type": "Meter",
            "attributes": [
                {"object_id": "e", "name": "energy", "type": "Number", "expression": "e / 1000"}
            ],
        }
        assert client.post("/iot/services", json={"services": [group]}).status_code == 201
        uri = f"coap://127.0.0.1:{configured.coap_port}/iot/d?k={apikey}&i=m1"
        assert coap(aiocoap.POST, uri, b"e|1500").code == aiocoap.CHANGED
        entity = wait_for(client, f"{E}/urn:ngsi-ld:Meter:m1", lambda e: "energy" in e)
        assert entity["energy"]["value"] == 1.5
