"""Fixtures of the gateway tests: a running Dalgu listening through a real MQTT broker."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import aiomqtt
import pytest
from starlette.testclient import TestClient

from dalgu.settings import Settings
from tests.ports import free_port, serving

MOSQUITTO = ("127.0.0.1", 1883)


@pytest.fixture(params=["external", "embedded"])
def gateway(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[TestClient, int]]:
    """A running Dalgu whose MQTT southbound listens on Mosquitto or its own broker."""

    def ports() -> dict[str, Any]:
        external = request.param == "external"
        return {
            "mqtt_broker": request.param,
            "mqtt_port": MOSQUITTO[1] if external else free_port(),
            "mqtt_client_id": f"dalgu-test-{uuid.uuid4().hex[:8]}",
        }

    with serving(settings, ports) as (client, configured):
        yield client, configured.mqtt_port


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
