"""What a device's message does to its entity, as an IoT Agent's update would."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from dalgu.broker.model import now_iso

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
    for body in (b"t|1|h", b"t|1#h"):
        refused = client.post("/iot/d?k=k-m&i=m4", content=body)
        assert refused.status_code == 400, refused.text
    assert client.get("/iot/devices/m4", headers=SMART).status_code == 404
    assert client.get(f"{E}/urn:ngsi-ld:M:m4", headers=TENANT).status_code == 404
    # the first good message provisions it
    assert client.post("/iot/d?k=k-m&i=m4", content=b"t|1").status_code == 200
    assert client.get("/iot/devices/m4", headers=SMART).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:m4", headers=TENANT).json()
    assert entity["temperature"]["value"] == 1 and entity["owner"]["value"] == "a"


def test_static_attributes_reach_an_existing_entity_with_every_measure(client: TestClient) -> None:
    provision_group(client)
    device = {"device_id": "th1", "apikey": "k-m", "entity_type": "M"}
    assert client.post("/iot/devices", json={"devices": [device]}, headers=SMART).status_code == 201
    assert client.post("/iot/d?k=k-m&i=th1", content=b"t|11").status_code == 200
    statics = [{"name": "serialID", "type": "Text", "value": "02598347"}]
    changed = client.put("/iot/devices/th1", json={"static_attributes": statics}, headers=SMART)
    assert changed.status_code == 204, changed.text
    group = {"static_attributes": [{"name": "owner", "type": "Text", "value": "acme"}]}
    params = {"apikey": "k-m", "resource": "/iot/d"}
    assert client.put("/iot/services", params=params, json=group, headers=SMART).status_code == 204
    assert client.post("/iot/d?k=k-m&i=th1", content=b"t|12").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:th1", headers=TENANT).json()
    assert entity["serialID"]["value"] == "02598347" and entity["owner"]["value"] == "acme"
    # deleted from the entity, a static attribute comes back with the next measure
    deleted = client.delete(f"{E}/urn:ngsi-ld:M:th1/attrs/owner", headers=TENANT)
    assert deleted.status_code == 204
    assert client.post("/iot/d?k=k-m&i=th1", content=b"t|13").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:th1", headers=TENANT).json()
    assert entity["owner"]["value"] == "acme" and entity["temperature"]["value"] == 13


def test_a_measure_wins_over_a_static_attribute_of_the_same_name(client: TestClient) -> None:
    provision_group(
        client, static_attributes=[{"name": "temperature", "type": "Number", "value": 0}]
    )
    assert client.post("/iot/d?k=k-m&i=th2", content=b"t|7").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:th2", headers=TENANT).json()
    assert entity["temperature"]["value"] == 7


def test_without_a_device_time_a_measure_is_observed_at_its_arrival(client: TestClient) -> None:
    provision_group(client)  # no timestamp flag: on, as in the IoT Agents
    before = now_iso()
    assert client.post("/iot/d?k=k-m&i=t1", content=b"t|3").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:t1", headers=TENANT).json()
    assert before <= entity["temperature"]["observedAt"] <= now_iso()
    history = client.get("/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:M:t1", headers=TENANT)
    assert [i["value"] for i in history.json()["temperature"]] == [3]
    off = {"apikey": "k-off", "resource": "/iot/d", "entity_type": "M", "timestamp": False}
    assert client.post("/iot/services", json={"services": [off]}, headers=SMART).status_code == 201
    assert client.post("/iot/d?k=k-off&i=t2", content=b"t|4").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:t2", headers=TENANT).json()
    assert "observedAt" not in entity["t"]


def test_a_time_instant_measure_is_the_observation_time_not_an_attribute(
    client: TestClient,
) -> None:
    provision_group(client)
    sent = client.post("/iot/d?k=k-m&i=t3", content=b"TimeInstant|2019-03-03T03:03:03Z|t|5")
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:M:t3", headers=TENANT).json()
    assert "TimeInstant" not in entity
    assert entity["temperature"] == {
        "type": "Property",
        "value": 5,
        "observedAt": "2019-03-03T03:03:03Z",
    }
    # a device time with an offset is written in UTC, as the IoT Agent library writes it
    stamp = "2019-03-03T05:03:04+02:00"
    assert client.post("/iot/d", params={"k": "k-m", "i": "t3", "t": stamp}, content=b"t|6")
    entity = client.get(f"{E}/urn:ngsi-ld:M:t3", headers=TENANT).json()
    assert entity["temperature"]["observedAt"] == "2019-03-03T03:03:04Z"


def test_a_device_time_that_is_no_time_gives_way_to_the_arrival_time(client: TestClient) -> None:
    provision_group(client, resource="/iot/json")
    before = now_iso()
    body = b'{"TimeInstant": "notadate", "t": 4}'
    assert client.post("/iot/json?k=k-m&i=t4", content=body).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:t4", headers=TENANT).json()
    assert entity["temperature"]["value"] == 4 and "TimeInstant" not in entity
    assert before <= entity["temperature"]["observedAt"] <= now_iso()
    sent = client.post("/iot/json?k=k-m&i=t4&t=yesterday", content=b'{"t": 5}')
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:M:t4", headers=TENANT).json()
    assert entity["temperature"]["value"] == 5
    assert before <= entity["temperature"]["observedAt"] <= now_iso()


def test_a_multi_measure_is_written_in_the_order_it_was_observed(client: TestClient) -> None:
    provision_group(client, resource="/iot/json")
    body = (
        b'[{"t": 3, "TimeInstant": "2024-04-10T10:15:00Z"},'
        b' {"t": 1, "TimeInstant": "2024-04-10T10:05:00Z"},'
        b' {"t": 2, "TimeInstant": "2024-04-10T10:10:00.500Z"}]'
    )
    assert client.post("/iot/json?k=k-m&i=x1", content=body).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:x1", headers=TENANT).json()
    assert entity["temperature"]["value"] == 3
    assert entity["temperature"]["observedAt"] == "2024-04-10T10:15:00Z"
    provision_group(client, apikey="k-ul")
    ul = b"2024-01-01T00:01:00Z|t|2#2024-01-01T00:00:00.250Z|t|1"
    assert client.post("/iot/d?k=k-ul&i=x2", content=ul).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:x2", headers=TENANT).json()
    assert entity["temperature"]["value"] == 2
    assert entity["temperature"]["observedAt"] == "2024-01-01T00:01:00Z"


def test_values_read_as_the_agents_ngsi_ld_mapping_reads_them(client: TestClient) -> None:
    provision_group(
        client,
        attributes=[
            {"object_id": "t", "name": "temperature", "type": "Number"},
            {"object_id": "d", "name": "installed", "type": "Date"},
        ],
    )
    assert client.post("/iot/d?k=k-m&i=v1", content=b"t|15|d|2024-05-06").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:v1", headers=TENANT).json()
    assert entity["temperature"]["value"] == 15 and type(entity["temperature"]["value"]) is int
    assert entity["installed"]["value"] == {"@type": "Date", "@value": "2024-05-06"}
    assert client.post("/iot/d?k=k-m&i=v1", content=b"t|15.5").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:M:v1", headers=TENANT).json()
    assert entity["temperature"]["value"] == 15.5


def test_left_out_values_are_logged_as_the_device_sent_them_and_an_oversize_body_is_413(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    provision_group(client, resource="/iot/json")
    for body, reason in (
        (b'{"t": null}', "its value is null"),
        (b'{"t": true}', "true is not a number"),
        (b'{"t": {"a": 1}}', '{"a":1} is not a number'),
    ):
        with caplog.at_level(logging.WARNING, logger="dalgu.devices.omission"):
            taken = client.post("/iot/json?k=k-m&i=v2", content=body)
        assert taken.status_code == 200, taken.text
        assert any(reason in r.getMessage() for r in caplog.records), reason
    huge = b"t|" + b"1" * 70_000
    assert client.post("/iot/json?k=k-m&i=v2", content=huge).status_code == 413


def test_a_static_attribute_that_does_not_fit_its_type_is_left_out_not_the_measures(
    client: TestClient,
) -> None:
    statics = [
        {"name": "static_a", "type": "Number", "value": {"v1": 1, "v2": {"v3": 3}}},
        {"name": "static_b", "type": "Text", "value": "kept"},
    ]
    provision_group(client, static_attributes=statics)  # accepted, as the IoT Agents do
    device = {"device_id": "m5", "apikey": "k-m", "entity_type": "M"}
    assert client.post("/iot/devices", json={"devices": [device]}, headers=SMART).status_code == 201
    for device_id in ("m5", "m6"):  # provisioned, and autoprovisioned
        sent = client.post(f"/iot/d?k=k-m&i={device_id}", content=b"t|10")
        assert sent.status_code == 200, sent.text
        entity = client.get(f"{E}/urn:ngsi-ld:M:{device_id}", headers=TENANT).json()
        assert entity["temperature"]["value"] == 10 and entity["static_b"]["value"] == "kept"
        assert "static_a" not in entity
