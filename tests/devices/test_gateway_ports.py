"""The IoT Agents' own ports: provisioning (4041), HTTP southbound (7896) and CoAP (5683),
here on free ports of 127.0.0.1, reached by real HTTP and CoAP clients."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from typing import Any

import aiocoap
import httpx
import orjson
import psutil

from dalgu.settings import Settings
from tests.ports import free_port, serving

E = "/ngsi-ld/v1/entities"


def coap(method: Any, uri: str, payload: bytes = b"") -> aiocoap.Message:
    async def exchange() -> aiocoap.Message:
        context = await aiocoap.Context.create_client_context()
        try:
            request = aiocoap.Message(code=method, uri=uri, payload=payload)
            response: aiocoap.Message = await asyncio.wait_for(
                context.request(request).response, 10
            )
            return response
        finally:
            await context.shutdown()

    return asyncio.run(exchange())


def test_iot_agent_ports_serve_provisioning_http_and_coap(settings: Settings) -> None:
    def ports() -> dict[str, int]:
        return {
            "iot_north_port": free_port(),
            "iot_south_port": free_port(),
            "coap_port": free_port(socket.SOCK_DGRAM),
        }

    apikey = f"k{uuid.uuid4().hex[:8]}"
    with serving(settings, ports) as (client, configured):
        north, south = configured.iot_north_port, configured.iot_south_port
        coap_port = configured.coap_port
        group = {
            "apikey": apikey,
            "entity_type": "Meter",
            "attributes": [{"object_id": "e", "name": "energy", "type": "Number"}],
        }
        created = httpx.post(f"http://127.0.0.1:{north}/iot/services", json={"services": [group]})
        assert created.status_code == 201, created.text
        about = httpx.get(f"http://127.0.0.1:{north}/iot/about")
        assert about.status_code == 200 and about.json()["port"] == str(north)
        # the south port serves devices only, not provisioning
        assert httpx.get(f"http://127.0.0.1:{south}/iot/services").status_code == 404
        sent = httpx.post(f"http://127.0.0.1:{south}/iot/d?k={apikey}&i=m1", content=b"e|12.5")
        assert sent.status_code == 200, sent.text
        assert client.get(f"{E}/urn:ngsi-ld:Meter:m1").json()["energy"]["value"] == 12.5
        bad = httpx.post(f"http://127.0.0.1:{south}/iot/d?k={apikey}&i=m1", content=b"e")
        assert bad.status_code == 400 and bad.json()["type"].endswith("BadRequestData")

        # CoAP is served over UDP only: the same port number over TCP (aiocoap's CoAP over
        # TCP by default) is left to others (this process's sockets are looked at: another
        # process may hold that TCP port by chance)
        tcp_ports = {c.laddr.port for c in psutil.Process().net_connections(kind="tcp")}
        assert coap_port not in tcp_ports
        uri = f"coap://127.0.0.1:{coap_port}/iot/d?k={apikey}&i=m2"
        changed = coap(aiocoap.POST, uri, b"e|3")
        assert changed.code == aiocoap.CHANGED
        deadline = time.monotonic() + 15
        while client.get(f"{E}/urn:ngsi-ld:Meter:m2").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.get(f"{E}/urn:ngsi-ld:Meter:m2").json()["energy"]["value"] == 3.0
        json_uri = f"coap://127.0.0.1:{coap_port}/iot/json?k={apikey}&i=m2"
        assert coap(aiocoap.POST, json_uri, b'{"e": 4}').code == aiocoap.CHANGED
        assert client.get(f"{E}/urn:ngsi-ld:Meter:m2").json()["energy"]["value"] == 4
        refused = coap(aiocoap.POST, f"coap://127.0.0.1:{coap_port}/iot/d?k=nokey&i=m3", b"e|1")
        assert refused.code == aiocoap.NOT_FOUND
        assert orjson.loads(refused.payload)["type"].endswith("ResourceNotFound")
        garbled = coap(aiocoap.POST, uri, b"e|x|y")
        assert garbled.code == aiocoap.BAD_REQUEST


def test_a_command_patched_on_the_north_port_reaches_the_device(settings: Settings) -> None:
    """The FIWARE NGSI-LD tutorial's request 9: the command PATCH sent to the agent itself."""

    def ports() -> dict[str, int]:
        return {"iot_north_port": free_port()}

    with serving(settings, ports) as (client, configured):
        north = f"http://127.0.0.1:{configured.iot_north_port}"
        fiware = {"fiware-service": "openiot", "fiware-servicepath": "/"}
        device = {
            "device_id": "water001",
            "entity_name": "urn:ngsi-ld:Device:water001",
            "entity_type": "Device",
            "apikey": "k-water",
            "transport": "HTTP",  # no endpoint: a polling device, whose commands wait
            "commands": [{"name": "on", "type": "command"}],
        }
        created = httpx.post(f"{north}/iot/devices", json={"devices": [device]}, headers=fiware)
        assert created.status_code == 201, created.text
        url = f"{north}/ngsi-ld/v1/entities/urn:ngsi-ld:Device:water001/attrs/on"
        sent = httpx.patch(url, json={"type": "Property", "value": " "}, headers=fiware)
        assert sent.status_code == 204, sent.text
        entity = client.get(
            f"{E}/urn:ngsi-ld:Device:water001", headers={"NGSILD-Tenant": "openiot"}
        ).json()
        assert entity["on_status"]["value"] == "PENDING"
        other = url.replace("/attrs/on", "/attrs/off")
        assert httpx.patch(other, json={"value": 1}, headers=fiware).status_code == 404
