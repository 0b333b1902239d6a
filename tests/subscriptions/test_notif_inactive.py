"""A notification is sent only while its subscription is active (clause 5.8.6): one queued
before a pause or an expiry, waiting for a retry, is dropped, not delivered while the
subscription is paused or expired, nor when it is resumed (outside tester notif-8)."""

from __future__ import annotations

import http.server
import queue
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.subscriptions import sender

S = "/ngsi-ld/v1/subscriptions"
E = "/ngsi-ld/v1/entities"


class Toggled:
    """A receiver answering 503 while `down`, else 204; it keeps what it took with 204."""

    def __init__(self) -> None:
        self.down = True
        self.attempts = 0
        self.taken: queue.Queue[Any] = queue.Queue()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                import json

                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                outer.attempts += 1
                if outer.down:
                    self.send_response(503)
                else:
                    outer.taken.put(body)
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_attempts(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.attempts < n:
            assert time.monotonic() < deadline, "no attempt came"
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Toggled]:
    monkeypatch.setattr(sender, "retry_delay", lambda attempts: 0.3)
    r = Toggled()
    yield r
    r.close()


def cart(n: int) -> dict[str, Any]:
    return {"id": "urn:ngsi-ld:Cart:c1", "type": "Cart", "n": {"type": "Property", "value": n}}


def subscription(sub_id: str, uri: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": sub_id,
        "type": "Subscription",
        "entities": [{"type": "Cart"}],
        "notification": {"attributes": ["n"], "format": "keyValues", "endpoint": {"uri": uri}},
        **extra,
    }


def n_of(notification: Any) -> Any:
    return notification["data"][0]["n"]


def test_a_paused_subscription_sends_nothing_queued_before_nor_on_resumption(
    client: TestClient, receiver: Toggled
) -> None:
    sub_id = "urn:ngsi-ld:Subscription:paused"
    assert client.post(S, json=subscription(sub_id, receiver.url)).status_code == 201
    client.post(E, json=cart(1))
    receiver.wait_attempts(1)  # failed: it waits for a retry
    assert client.patch(f"{S}/{sub_id}", json={"isActive": False}).status_code == 204
    time.sleep(2.0)  # an attempt already under way when it was paused answers 503
    up_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    receiver.down = False
    with pytest.raises(queue.Empty):  # retries came every 0.3 s: none is sent while paused
        receiver.taken.get(timeout=3)
    shown = client.get(f"{S}/{sub_id}").json()
    assert shown["status"] == "paused"
    assert shown["notification"]["lastNotification"] < up_at  # the last sent failed
    assert shown["notification"]["timesSent"] == shown["notification"]["timesFailed"]
    assert client.patch(f"{S}/{sub_id}", json={"isActive": True}).status_code == 204
    client.patch(f"{E}/urn:ngsi-ld:Cart:c1/attrs", json={"n": {"type": "Property", "value": 2}})
    assert n_of(receiver.taken.get(timeout=10)) == 2  # the one queued before is gone


@pytest.mark.slow
def test_an_expired_subscription_sends_nothing_queued_before_it_expired(
    client: TestClient, receiver: Toggled
) -> None:
    sub_id = "urn:ngsi-ld:Subscription:expiring"
    expires = datetime.now(UTC) + timedelta(seconds=3)
    expires_at = expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sub = subscription(sub_id, receiver.url, expiresAt=expires_at)
    assert client.post(S, json=sub).status_code == 201
    client.post(E, json=cart(1))
    receiver.wait_attempts(1)
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 2.0)
    up_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    receiver.down = False
    with pytest.raises(queue.Empty):
        receiver.taken.get(timeout=3)
    shown = client.get(f"{S}/{sub_id}").json()
    assert shown["status"] == "expired"
    assert shown["notification"]["lastNotification"] < up_at
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert client.patch(f"{S}/{sub_id}", json={"expiresAt": later}).status_code == 204
    client.patch(f"{E}/urn:ngsi-ld:Cart:c1/attrs", json={"n": {"type": "Property", "value": 2}})
    assert n_of(receiver.taken.get(timeout=10)) == 2
