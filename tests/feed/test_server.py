"""The change feed of a real server: writes acknowledged while NATS was away reach the stream
once NATS is back, even after kill -9 of the server, on both stores."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.feed.stream import NATS_URL, Stream, received, stream
from tests.ports import free_port
from tests.server import kill_server, start_server

__all__ = ["stream"]


def feed_environment(stream: Stream, url: str) -> dict[str, str]:
    return {
        "DALGU_CHANGE_FEED": "nats",
        "DALGU_NATS_URL": url,
        "DALGU_NATS_STREAM": stream.name,
        "DALGU_NATS_SUBJECT": stream.prefix,
    }


@pytest.mark.slow
def test_acknowledged_writes_reach_the_feed_after_nats_returns_and_kill_9(
    tmp_path: Path, dsn: str | None, stream: Stream
) -> None:
    db, port = tmp_path / "dalgu.db", free_port()
    away = {
        **feed_environment(stream, f"nats://127.0.0.1:{free_port()}"),
        "DALGU_NOTIFIER_LAG_WARNING": "0.5",
    }
    server = start_server(db, port, postgres_dsn=dsn, environment=away)
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    try:
        for n in range(20):
            body = {
                "id": f"urn:ngsi-ld:Bus:{n}",
                "type": "Bus",
                "n": {"type": "Property", "value": n},
            }
            headers = {"NGSILD-Tenant": "daegu"} if n % 2 else {}
            assert httpx.post(f"{base}/entities", json=body, headers=headers).status_code == 201
        time.sleep(1)
        health = httpx.get(f"http://127.0.0.1:{port}/health").json()
        assert health["status"] == "warn"
        assert health["checks"]["feed:lag"][0]["status"] == "warn"
        assert health["checks"]["notifier:lag"][0]["status"] == "pass"
    finally:
        kill_server(server)  # SIGKILL: nothing was published, nothing is lost
    assert asyncio.run(received(stream, wait=0.2)) == []
    server = start_server(
        db, port, postgres_dsn=dsn, environment=feed_environment(stream, NATS_URL)
    )
    try:
        deadline = time.monotonic() + 20
        messages = asyncio.run(received(stream, wait=0.5))
        while len(messages) < 20 and time.monotonic() < deadline:
            time.sleep(0.5)
            messages = asyncio.run(received(stream, wait=0.5))
        assert [m.body["entityId"] for m in messages] == [f"urn:ngsi-ld:Bus:{n}" for n in range(20)]
        assert {m.subject for m in messages} == {
            f"{stream.prefix}._default.Bus",
            f"{stream.prefix}.daegu.Bus",
        }
        # and a write now reaches it within moments
        body = {"id": "urn:ngsi-ld:Bus:late", "type": "Bus"}
        assert httpx.post(f"{base}/entities", json=body).status_code == 201
        deadline = time.monotonic() + 10
        while len(messages) < 21 and time.monotonic() < deadline:
            time.sleep(0.2)
            messages = asyncio.run(received(stream, wait=0.3))
        assert messages[-1].body["entityId"] == "urn:ngsi-ld:Bus:late"
        assert messages[-1].body["operation"] == "create"
    finally:
        kill_server(server, signal.SIGTERM)
