"""Connections that send nothing do not take the API down. granian's default holds as many
connections at once as its listen backlog, 1,024, and closes no idle one: an outside test of
operations (round 6) held them all with ~1,500 idle sockets, and every request, `/health`
too, timed out for as long as they stayed open (an orchestrator then restarts a server that
is otherwise fine). Each worker now holds as many as its file descriptors allow."""

from __future__ import annotations

import contextlib
import resource
import signal
import socket
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port
from tests.server import kill_server, start_server

IDLE = 2000


def test_two_thousand_idle_connections_leave_the_api_answering(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < IDLE + 1024:
        pytest.skip(f"this machine allows {hard} open files: too few to hold {IDLE} sockets")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, IDLE + 1024)), hard))
    port = free_port()
    server = start_server(tmp_path / "dalgu.db", port)
    idle: list[socket.socket] = []
    try:
        for _ in range(IDLE):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        assert answer.status_code == 200
        created = httpx.post(
            f"http://127.0.0.1:{port}/ngsi-ld/v1/entities",
            json={"id": "urn:ngsi-ld:Thing:1", "type": "Thing"},
            timeout=5,
        )
        assert created.status_code == 201
    finally:
        for sock in idle:
            with contextlib.suppress(OSError):
                sock.close()
        kill_server(server, signal.SIGTERM)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
