"""Free loopback ports for a Dalgu the test starts, and starting it in-process on them.

A port is picked free but bound only when the server starts: in between another process may
take it. Ports are therefore picked below the kernel's ephemeral range (where no client's
connection takes its local port) and each test worker of a parallel run picks from a share of
its own, in turn, so two tests do not pick one port. A Dalgu started in-process logs a port it
could not bind as a problem and serves without it, so `serving` still picks again.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings

TRIES = 5


#: where tests' servers listen: under Linux's ephemeral range (32768-60999), where clients'
#: connections never take a port, and above the ports services here listen on
PORTS = range(10_000, 20_000)


def _share() -> range:
    """This test worker's share of `PORTS` (pytest-xdist names workers gw0, gw1, ...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker) if worker.isdigit() else 0
    size = len(PORTS) // max(workers, 1)
    start = PORTS.start + index * size
    return range(start, start + size)


def _candidates() -> Iterator[int]:
    share = _share()
    first = share.start + os.getpid() % len(share)  # runs one after another start elsewhere
    return itertools.cycle([*range(first, share.stop), *range(share.start, first)])


_NEXT = _candidates()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port nothing listens on (TCP, or UDP for `socket.SOCK_DGRAM`), never the
    same twice in a row of this worker's share."""
    for _ in range(len(PORTS)):
        port = next(_NEXT)
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


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
