"""A provisioned device's message to a resource its config group does not serve (`/iot/json`
where the group is for `/iot/d`) is refused, and never changes how its later messages map."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid

import aiocoap
import orjson
import pytest
from starlette.testclient import TestClient

from dalgu.settings import Settings
from tests.ports import free_port, serving

E = "/ngsi-ld/v1/entities"
POISON = {"fiware-service": "poison", "fiware-servicepath": "/"}
TENANT = {"NGSILD-Tenant": "poison"}
METERS = {
    "apikey": "kp",
    "entity_type": "Meter",
    "resource": "/iot/d",
    "attributes": [{"object_id": "e", "name": "energy", "type": "Number"}],
}


def _provision(client: TestClient) -> None:
    created = client.post("/iot/services", json={"services": [METERS]}, headers=POISON)
    assert created.status_code == 201, created.text


def test_a_message_to_a_resource_the_group_does_not_serve_is_refused_and_rebinds_nothing(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    _provision(client)
    assert client.post("/iot/d?k=kp&i=m1", content=b"e|5").status_code == 200
    with caplog.at_level(logging.WARNING, logger="dalgu.devices"):
        wrong = client.post("/iot/json?k=kp&i=m1", json={"e": 6})
    assert wrong.status_code == 404, wrong.text
    assert "/iot/d" in wrong.json()["detail"] and "/iot/json" in wrong.json()["detail"]
    assert any("refused" in r.getMessage() and "m1" in r.getMessage() for r in caplog.records)
    # the device's later messages are still read with its group's mapping and types
    assert client.post("/iot/d?k=kp&i=m1", content=b"e|7").status_code == 200
    assert client.post("/iot/d?k=kp&i=m1", content=b"e|not-a-number").status_code == 200
    found = client.get(f"{E}?type=Meter,Thing&options=keyValues", headers=TENANT).json()
    assert found == [{"id": "urn:ngsi-ld:Meter:m1", "type": "Meter", "energy": 7}]
    assert client.get("/iot/devices", headers=POISON).json()["count"] == 1


def test_a_device_whose_group_serves_every_resource_is_taken_on_each(client: TestClient) -> None:
    group = {**METERS, "resource": ""}
    assert (
        client.post("/iot/services", json={"services": [group]}, headers=POISON).status_code == 201
    )
    assert client.post("/iot/d?k=kp&i=m1", content=b"e|5").status_code == 200
    assert client.post("/iot/json?k=kp&i=m1", json={"e": 6}).status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:Meter:m1?options=keyValues", headers=TENANT).json()
    assert entity["energy"] == 6


def _coap_post(uri: str, payload: bytes) -> aiocoap.Message:
    async def exchange() -> aiocoap.Message:
        context = await aiocoap.Context.create_client_context()
        try:
            request = aiocoap.Message(code=aiocoap.POST, uri=uri, payload=payload)
            response: aiocoap.Message = await asyncio.wait_for(
                context.request(request).response, 10
            )
            return response
        finally:
            await context.shutdown()

    return asyncio.run(exchange())


def test_a_coap_message_to_the_wrong_resource_is_4_04_and_rebinds_nothing(
    settings: Settings,
) -> None:
    def ports() -> dict[str, int]:
        return {"coap_port": free_port(socket.SOCK_DGRAM)}

    apikey = f"k{uuid.uuid4().hex[:8]}"
    with serving(settings, ports) as (client, configured):
        group = {**METERS, "apikey": apikey}
        created = client.post("/iot/services", json={"services": [group]}, headers=POISON)
        assert created.status_code == 201, created.text
        base = f"coap://127.0.0.1:{configured.coap_port}"
        assert _coap_post(f"{base}/iot/d?k={apikey}&i=c1", b"e|5").code == aiocoap.CHANGED
        wrong = _coap_post(f"{base}/iot/json?k={apikey}&i=c1", b'{"e": 6}')
        assert wrong.code == aiocoap.NOT_FOUND
        assert "/iot/d" in orjson.loads(wrong.payload)["detail"]
        assert _coap_post(f"{base}/iot/d?k={apikey}&i=c1", b"e|7").code == aiocoap.CHANGED
        found = client.get(f"{E}?type=Meter,Thing&options=keyValues", headers=TENANT).json()
        assert found == [{"id": "urn:ngsi-ld:Meter:c1", "type": "Meter", "energy": 7}]
