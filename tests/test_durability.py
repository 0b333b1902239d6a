"""Acknowledged writes and their notifications survive kill -9 of the server, on both stores."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port
from tests.receiver import Receiver
from tests.server import kill_server, start_server


@pytest.mark.slow
def test_acknowledged_writes_survive_kill_9(tmp_path: Path, dsn: str | None) -> None:
    db, port = tmp_path / "dalgu.db", free_port()
    server = start_server(db, port, postgres_dsn=dsn)
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    try:
        for n in range(50):
            body = {"id": f"urn:ngsi-ld:Thing:{n}", "type": "Thing", "n": n}
            assert httpx.post(f"{base}/entities", json=body).status_code == 201
    finally:
        kill_server(server)
    server = start_server(db, port, postgres_dsn=dsn)
    try:
        listed = httpx.get(
            f"{base}/entities", params={"type": "Thing", "limit": 100, "count": "true"}
        )
        assert listed.headers["NGSILD-Results-Count"] == "50"
    finally:
        kill_server(server, signal.SIGTERM)


def test_notification_is_delivered_after_kill_9_between_ack_and_delivery(
    tmp_path: Path, dsn: str | None
) -> None:
    db, port, receiver_port = tmp_path / "dalgu.db", free_port(), free_port()
    server = start_server(db, port, postgres_dsn=dsn)
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    endpoint = f"http://127.0.0.1:{receiver_port}/notify"  # nobody listens there yet
    try:
        sub = {
            "type": "Subscription",
            "entities": [{"type": "Thing"}],
            "notification": {"endpoint": {"uri": endpoint}},
        }
        assert httpx.post(f"{base}/subscriptions", json=sub).status_code == 201
        thing = {"id": "urn:ngsi-ld:Thing:kill", "type": "Thing", "n": 1}
        assert httpx.post(f"{base}/entities", json=thing).status_code == 201
    finally:
        kill_server(server)
    receiver = Receiver(receiver_port)
    server = start_server(db, port, postgres_dsn=dsn)
    try:
        _, notification = receiver.next(timeout=20)
        assert notification["data"][0]["id"] == "urn:ngsi-ld:Thing:kill"
    finally:
        kill_server(server, signal.SIGTERM)
        receiver.close()
