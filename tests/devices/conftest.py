"""Fixtures of the gateway tests: a running Dalgu listening through a real MQTT broker."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import aiomqtt
import pytest
from starlette.testclient import TestClient

from dalgu.settings import Settings
from tests.mqtt_sessions import end_session
from tests.ports import free_port, serving

MOSQUITTO = ("127.0.0.1", 1883)


@pytest.fixture(params=["external", "embedded"])
def gateway(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[TestClient, int]]:
    """A running Dalgu whose MQTT southbound listens on Mosquitto or its own broker."""

    external = request.param == "external"
    client_ids: list[str] = []

    def ports() -> dict[str, Any]:
        client_ids.append(f"dalgu-test-{uuid.uuid4().hex[:8]}")
        return {
            "mqtt_broker": request.param,
            "mqtt_port": MOSQUITTO[1] if external else free_port(),
            "mqtt_client_id": client_ids[-1],
        }

    try:
        with serving(settings, ports) as (client, configured):
            yield client, configured.mqtt_port
    finally:
        if external:  # the server's persistent session would stay on the shared Mosquitto
            for client_id in client_ids:
                end_session(MOSQUITTO[1], client_id)


def publish(port: int, topic: str, payload: bytes) -> None:
    async def send() -> None:
        async with aiomqtt.Client(
            "127.0.0.1", port, identifier=f"device-{uuid.uuid4().hex[:6]}"
        ) as c:
            await c.publish(topic, payload, qos=1)

    asyncio.run(send())


def wait_for(client: TestClient, url: str, check: Any, seconds: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(url)
        if response.status_code == 200:
            last = response.json()
            if check(last):
                return last
        time.sleep(0.05)
    raise AssertionError(f"{url} never satisfied the check; last: {last}")


class FirstMessage:
    """The first message published on `topic`, as a device subscribed to it would receive it
    (on a thread of its own, subscribed before the constructor returns)."""

    def __init__(self, port: int, topic: str, identifier: str) -> None:
        self._received: queue.Queue[bytes] = queue.Queue()
        subscribed = threading.Event()

        async def listen() -> None:
            async with aiomqtt.Client("127.0.0.1", port, identifier=identifier) as c:
                await c.subscribe(topic, qos=1)
                subscribed.set()
                async with asyncio.timeout(15):
                    async for message in c.messages:
                        assert isinstance(message.payload, bytes)
                        self._received.put(message.payload)
                        return

        self._thread = threading.Thread(target=lambda: asyncio.run(listen()), daemon=True)
        self._thread.start()
        assert subscribed.wait(10), f"never subscribed to {topic}"

    def get(self, timeout: float = 10) -> bytes:
        payload = self._received.get(timeout=timeout)
        self._thread.join(5)
        return payload


def provision_lamp(client: TestClient, apikey: str, protocol: str = "IoTA-UL") -> str:
    """A polling HTTP device with the commands switch and dim; its entity's id."""
    body = {
        "device_id": "lamp1",
        "apikey": apikey,
        "entity_type": "Lamp",
        "transport": "HTTP",
        "protocol": protocol,
        "commands": [{"name": "switch", "type": "command"}, {"name": "dim"}],
    }
    assert client.post("/iot/devices", json={"devices": [body]}).status_code == 201
    return "urn:ngsi-ld:Lamp:lamp1"
