"""Fixtures of the gateway tests: a running Dalgu listening through a real MQTT broker."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import aiomqtt
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings

MOSQUITTO = ("127.0.0.1", 1883)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(params=["external", "embedded"])
def gateway(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[TestClient, int]]:
    """A running Dalgu whose MQTT southbound listens on Mosquitto or its own broker."""
    if request.param == "external":
        port = MOSQUITTO[1]
        overrides: dict[str, Any] = {"mqtt_broker": "external", "mqtt_port": port}
    else:
        port = free_port()
        overrides = {"mqtt_broker": "embedded", "mqtt_port": port}
    overrides["mqtt_client_id"] = f"dalgu-test-{uuid.uuid4().hex[:8]}"
    configured = settings.model_copy(update=overrides)
    with TestClient(build_app(configured)) as client:
        southbound = client.app.state.dalgu_gateway.southbound  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while not southbound.ready.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert southbound.ready.is_set(), "the MQTT southbound did not subscribe"
        yield client, port


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
