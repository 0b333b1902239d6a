"""The HTTP southbound reads a body's `Content-Encoding`: gzip and deflate are inflated (as
the IoT Agents' body parser does), another coding is a 415 (RFC 9110 15.5.16), never bytes
read as if uncoded."""

from __future__ import annotations

import gzip
import zlib

from starlette.testclient import TestClient

FIRM = {"fiware-service": "firm1"}
E = "/ngsi-ld/v1/entities"


def provision(client: TestClient) -> None:
    groups = [
        {
            "apikey": "k-gz",
            "resource": "/iot/json",
            "entity_type": "ParkingSpot",
            "attributes": [{"object_id": "b", "name": "batteryLevel", "type": "Number"}],
        },
        {
            "apikey": "k-gz",
            "resource": "/iot/d",
            "entity_type": "AirQualityObserved",
            "attributes": [{"object_id": "p10", "name": "pm10", "type": "Number"}],
        },
    ]
    assert client.post("/iot/services", json={"services": groups}, headers=FIRM).status_code == 201


def test_gzip_and_deflate_bodies_are_inflated(client: TestClient) -> None:
    """RFC 9110 8.4: the coding applied to the content; a cellular device's gzip body was
    refused as "not UTF-8"."""
    provision(client)
    gz = client.post(
        "/iot/json?k=k-gz&i=ps-003",
        content=gzip.compress(b'{"b": 12}'),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert gz.status_code == 200, gz.text
    deflated = client.post(
        "/iot/d?k=k-gz&i=aq-001",
        content=zlib.compress(b"p10|13"),
        headers={"Content-Encoding": "deflate"},
    )
    assert deflated.status_code == 200, deflated.text
    tenant = {"NGSILD-Tenant": "firm1"}
    spot = client.get(f"{E}/urn:ngsi-ld:ParkingSpot:ps-003", headers=tenant).json()
    assert spot["batteryLevel"]["value"] == 12
    air = client.get(f"{E}/urn:ngsi-ld:AirQualityObserved:aq-001", headers=tenant).json()
    assert air["pm10"]["value"] == 13


def test_a_coding_the_gateway_does_not_take_is_a_415(client: TestClient) -> None:
    """RFC 9110 15.5.16: content in a coding the server does not take is a 415; a `br` body
    was read as plain text."""
    provision(client)
    sent = client.post(
        "/iot/d?k=k-gz&i=aq-001", content=b"p10|13", headers={"Content-Encoding": "br"}
    )
    assert sent.status_code == 415, sent.text
    broken = client.post(
        "/iot/d?k=k-gz&i=aq-001", content=b"p10|13", headers={"Content-Encoding": "gzip"}
    )
    assert broken.status_code == 400, broken.text
    tenant = {"NGSILD-Tenant": "firm1"}
    assert (
        client.get(f"{E}/urn:ngsi-ld:AirQualityObserved:aq-001", headers=tenant).status_code == 404
    )
