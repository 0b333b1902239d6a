"""A subscription's notification status (clause 5.2.14): timesSent counts each notification
as it goes out, so a receiver that reads the subscription on receipt finds it counted;
lastSuccess and timesFailed follow the answer. Real HTTP receivers on loopback, both stores."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.store.postgres.subscriptions import PostgresSubscriptions
from dalgu.store.sqlite.subscriptions import SqliteSubscriptions
from tests.ports import free_port
from tests.receiver import Receiver

S = "/ngsi-ld/v1/subscriptions"
E = "/ngsi-ld/v1/entities"


class HoldingReceiver(Receiver):
    """A receiver that answers a notification only once `release` is called: until then the
    notifier is still waiting for the answer of what the test has received."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()
        handler = self.server.RequestHandlerClass
        answer = handler.do_POST  # type: ignore[attr-defined]
        released = self.released

        def held(request: Any) -> None:
            # read and queue the body as the plain receiver does, answer when released
            original_send = request.send_response

            def send_response(code: int, message: str | None = None) -> None:
                released.wait(timeout=20)
                original_send(code, message)

            request.send_response = send_response
            answer(request)

        handler.do_POST = held  # type: ignore[attr-defined]

    def release(self) -> None:
        self.released.set()


def subscription(uri: str) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": uri}},
    }


def vehicle(n: int) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Vehicle:st{n}", "type": "Vehicle", "speed": n}


def until(read: Callable[[], dict[str, Any]], holds: Callable[[dict[str, Any]], bool]) -> Any:
    deadline = time.monotonic() + 10
    while True:
        got = read()
        if holds(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


def test_a_notification_is_counted_before_its_answer(client: TestClient) -> None:
    receiver = HoldingReceiver()
    try:
        url = client.post(S, json=subscription(receiver.url)).headers["location"]
        assert "timesSent" not in client.get(url).json()["notification"]
        client.post(E, json=vehicle(1))
        receiver.next()
        # the notifier still waits for the answer, yet the notification is counted
        held = client.get(url).json()["notification"]
        assert held["timesSent"] == 1
        assert held["lastNotification"].endswith("Z")
        assert "lastSuccess" not in held and "timesFailed" not in held
        receiver.release()
        done = until(lambda: client.get(url).json()["notification"], lambda n: "lastSuccess" in n)
        assert done["timesSent"] == 1 and done["status"] == "ok"
        assert done["lastSuccess"] >= done["lastNotification"]
        client.post(E, json=vehicle(2))
        receiver.next()
        again = until(lambda: client.get(url).json()["notification"], lambda n: n["timesSent"] > 1)
        assert again["timesSent"] == 2
    finally:
        receiver.release()
        receiver.close()


def test_a_failed_notification_is_counted_as_sent_and_as_failed(client: TestClient) -> None:
    port = free_port()  # nobody listens: the attempts fail
    url = client.post(S, json=subscription(f"http://127.0.0.1:{port}/notify")).headers["location"]
    client.post(E, json=vehicle(3))
    for speed in (4, 5, 6):  # queued behind the failing one: not sent until it is
        client.patch(f"{E}/urn:ngsi-ld:Vehicle:st3/attrs/speed", json={"value": speed})
    failed = until(lambda: client.get(url).json()["notification"], lambda n: "timesFailed" in n)
    assert failed["timesFailed"] >= 1 and failed["status"] == "failed"
    # every attempt is a notification sent, the failed ones too; the ones behind it are not
    assert failed["timesSent"] == failed["timesFailed"]
    assert "lastSuccess" not in failed and failed["lastFailure"] >= failed["lastNotification"]
    receiver = Receiver(port)
    try:
        got = [receiver.next(timeout=10)[1]["data"][0]["speed"] for _ in range(4)]
        assert [s["value"] if isinstance(s, dict) else s for s in got] == [3, 4, 5, 6]
        ok = until(
            lambda: client.get(url).json()["notification"],
            lambda n: n.get("timesSent") == n.get("timesFailed", 0) + 4 and "lastSuccess" in n,
        )
        assert ok["status"] == "ok"
        assert ok["timesSent"] == ok["timesFailed"] + 4
    finally:
        receiver.close()


def test_a_failure_is_recorded_once_the_notifications_behind_it_are_taken_off(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Giving back the notifications queued behind a failed one is slowed here: the status
    must never show the failure while they still count as sent."""
    for store in (SqliteSubscriptions, PostgresSubscriptions):
        release = store.release_deliveries

        async def slowly(self: Any, deliveries: Any, release: Any = release) -> None:
            await asyncio.sleep(0.3)
            await release(self, deliveries)

        monkeypatch.setattr(store, "release_deliveries", slowly)
    port = free_port()  # nobody listens: the attempts fail
    url = client.post(S, json=subscription(f"http://127.0.0.1:{port}/notify")).headers["location"]
    client.post(E, json=vehicle(7))
    for speed in (8, 9):
        client.patch(f"{E}/urn:ngsi-ld:Vehicle:st7/attrs/speed", json={"value": speed})
    # from the failure on, for less than the retry's 0.5 s backoff (a retry counts as sent,
    # with what is queued behind it, from its lease to its answer)
    failed = until(lambda: client.get(url).json()["notification"], lambda n: "timesFailed" in n)
    seen = [(failed["timesSent"], failed["timesFailed"])]
    deadline = time.monotonic() + 0.25
    while time.monotonic() < deadline:
        status = client.get(url).json()["notification"]
        seen.append((status["timesSent"], status["timesFailed"]))
        time.sleep(0.01)
    assert all(sent == failed for sent, failed in seen), seen
