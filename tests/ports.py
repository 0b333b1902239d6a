"""Free loopback ports for a Dalgu the test starts in-process, and starting it on them.

A port is picked free but bound only when the app starts: in between another process (a
parallel test worker, any client's ephemeral port) may take it. Dalgu then logs the port as a
problem and serves without it, so `serving` picks again.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings

TRIES = 5


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(
    settings: Settings, ports: Callable[[], dict[str, Any]]
) -> Iterator[tuple[TestClient, Settings]]:
    """Dalgu with `settings` updated by `ports()` (called again for each try), and the settings
    it runs with, once every port it was given listens and its MQTT southbound, if any, has
    subscribed."""
    for _ in range(TRIES):
        configured = settings.model_copy(update=ports())
        with TestClient(build_app(configured)) as client:
            state = client.app.state  # type: ignore[attr-defined]
            if state.dalgu_gateway.problems or state.dalgu_listeners.problems:
                continue
            southbound = state.dalgu_gateway.southbound
            if southbound is not None:
                deadline = time.monotonic() + 10
                while not southbound.ready.is_set():
                    assert time.monotonic() < deadline, "the MQTT southbound did not subscribe"
                    time.sleep(0.05)
            yield client, configured
            return
    pytest.fail(f"no free ports for Dalgu in {TRIES} tries")
