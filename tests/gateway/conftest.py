"""Fixtures of the gateway's tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.settings import Settings
from tests.ports import free_port, serving


@pytest.fixture
def embedded(settings: Settings) -> Iterator[tuple[TestClient, int]]:
    """Dalgu in process with its embedded MQTT broker: the client and the broker's port."""

    def ports() -> dict[str, Any]:
        return {
            "mqtt_broker": "embedded",
            "mqtt_port": free_port(),
            "mqtt_client_id": f"dalgu-test-{uuid.uuid4().hex[:8]}",
        }

    with serving(settings, ports) as (client, configured):
        yield client, configured.mqtt_port
