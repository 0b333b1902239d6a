"""A measure that does not fit its type, or is null, is left out of the update and logged; the
message's other measures are stored, as the IoT Agents store them (outside tester iota-4,
iota-5)."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
UL = {"Content-Type": "text/plain"}


def _group(client: TestClient, apikey: str, resource: str) -> None:
    group = {
        "apikey": apikey,
        "resource": resource,
        "entity_type": "S6",
        "attributes": [
            {"object_id": "t", "name": "temperature", "type": "Number"},
            {"object_id": "h", "name": "humidity", "type": "Integer"},
            {"object_id": "on", "name": "active", "type": "Boolean"},
        ],
    }
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201


def test_a_value_that_does_not_fit_its_type_is_left_out_and_the_rest_stored(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    _group(client, "kbad", "/iot/d")
    with caplog.at_level(logging.WARNING, logger="dalgu.devices.omission"):
        sent = client.post("/iot/d?k=kbad&i=dev1", content=b"t|abc|h|40|on|true", headers=UL)
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:S6:dev1").json()
    assert entity["humidity"]["value"] == 40
    assert entity["active"]["value"] is True
    assert "temperature" not in entity
    assert client.get("/iot/devices/dev1").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "dalgu.devices.omission"]
    assert any("measure 't' of device 'dev1' left out" in line for line in lines), lines
    assert any('"abc" is not a number' in line for line in lines), lines


@pytest.mark.parametrize("body", [b"h|40.7", b"on|yes", b"t|0x10"])
def test_a_message_of_only_unfitting_values_is_taken_and_writes_nothing(
    client: TestClient, body: bytes
) -> None:
    _group(client, "kbad2", "/iot/d")
    sent = client.post("/iot/d?k=kbad2&i=dev2", content=body, headers=UL)
    assert sent.status_code == 200, sent.text
    assert client.get(f"{E}/urn:ngsi-ld:S6:dev2").status_code == 404


def test_null_json_measures_are_left_out_and_the_rest_stored(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    _group(client, "knull", "/iot/json")
    with caplog.at_level(logging.WARNING, logger="dalgu.devices.omission"):
        first = client.post("/iot/json?k=knull&i=nl1", json={"t": None, "u": None, "v": "x"})
        second = client.post("/iot/json?k=knull&i=nl2", json={"u": None, "v": "y"})
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    one = client.get(f"{E}/urn:ngsi-ld:S6:nl1").json()
    assert one["v"]["value"] == "x"
    assert "temperature" not in one and "u" not in one
    assert client.get(f"{E}/urn:ngsi-ld:S6:nl2").json()["v"]["value"] == "y"
    lines = [r.getMessage() for r in caplog.records if r.name == "dalgu.devices.omission"]
    assert any("measure 'u' of device 'nl2' left out" in line for line in lines), lines


def test_an_ultralight_null_is_left_out(client: TestClient) -> None:
    _group(client, "kulnull", "/iot/d")
    sent = client.post("/iot/d?k=kulnull&i=d3", content=b"t|null|h|3", headers=UL)
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:S6:d3").json()
    assert entity["humidity"]["value"] == 3 and "temperature" not in entity


def test_a_measure_the_broker_refuses_alone_is_left_out(client: TestClient) -> None:
    group = {
        "apikey": "kgeo",
        "resource": "/iot/d",
        "entity_type": "S6",
        "attributes": [{"object_id": "p", "name": "location", "type": "Text"}],
    }
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201
    # `location` is a GeoProperty in NGSI-LD: a text there is refused by the broker's parser
    sent = client.post("/iot/d?k=kgeo&i=d4", content=b"p|here|h|3", headers=UL)
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:S6:d4").json()
    assert entity["h"]["value"] == 3 and "location" not in entity


def test_an_empty_message_is_taken_and_a_poll_with_it_gets_the_commands(
    client: TestClient,
) -> None:
    """Outside tester iota-7: `{}` and an empty UltraLight body are heartbeats (200), and a
    `{}` with `getCmd=1` hands out the waiting commands."""
    _group(client, "kempty", "/iot/json")
    assert client.post("/iot/json?k=kempty&i=z4", json={}).status_code == 200
    ul = {"apikey": "kemptyul", "resource": "/iot/d", "entity_type": "S6"}
    assert client.post("/iot/services", json={"services": [ul]}).status_code == 201
    assert client.post("/iot/d?k=kemptyul&i=z5", content=b"", headers=UL).status_code == 200
    device = {
        "device_id": "jp1",
        "apikey": "kempty",
        "entity_type": "S6",
        "transport": "HTTP",
        "commands": [{"name": "set", "type": "command"}],
    }
    assert client.post("/iot/devices", json={"devices": [device]}).status_code == 201
    patched = client.patch(f"{E}/urn:ngsi-ld:S6:jp1/attrs/set", json={"value": 1})
    assert patched.status_code == 204
    polled = client.post("/iot/json?k=kempty&i=jp1&getCmd=1", json={})
    assert polled.status_code == 200, polled.text
    assert polled.json() == {"set": 1}
