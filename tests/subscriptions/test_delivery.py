"""Delivery: retries keep order, a hanging endpoint delays no other, several notifiers on one
PostgreSQL database send each notification once and in order. Real servers on loopback."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from dalgu.subscriptions import sender
from tests.ports import free_port
from tests.receiver import Receiver
from tests.server import kill_server, start_server

S = "/ngsi-ld/v1/subscriptions"
E = "/ngsi-ld/v1/entities"


def subscription(uri: str) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": uri}, "format": "keyValues"},
    }


def speed(body: Any) -> Any:
    return body["data"][0]["speed"]


@pytest.fixture
def hanging_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/notify"
    server.close()


def test_a_hanging_endpoint_does_not_delay_other_subscriptions(
    client: TestClient, hanging_endpoint: str
) -> None:
    receiver = Receiver()
    try:
        client.post(S, json=subscription(hanging_endpoint))
        client.post(S, json=subscription(receiver.url))
        started = time.monotonic()
        for n in range(5):
            body = {"id": f"urn:ngsi-ld:Vehicle:h{n}", "type": "Vehicle", "speed": n}
            assert client.post(E, json=body).status_code == 201
        got = sorted(speed(receiver.next(timeout=8)[1]) for _ in range(5))
        assert got == [0, 1, 2, 3, 4]
        # the hanging endpoint holds each of its POSTs 10 s: had the others waited behind even
        # one of them, this would take 10 s or more (8 s leaves room for a loaded machine)
        assert time.monotonic() - started < 8
    finally:
        receiver.close()


class SwitchedReceiver(Receiver):
    """A receiver that answers 503 (a failure, retried) while it is down, counting those, and
    204 once `up` is set, queueing only those notifications."""

    def __init__(self) -> None:
        super().__init__()
        handler = self.server.RequestHandlerClass
        answer = handler.do_POST  # type: ignore[attr-defined]
        self.up = threading.Event()
        self.refused = threading.Semaphore(0)
        self.refusals = 0
        up, refused = self.up, self.refused
        receiver = self

        def switched(request: Any) -> None:
            if up.is_set():
                answer(request)
                return
            request.rfile.read(int(request.headers.get("content-length", 0)))
            request.send_response(503)
            request.send_header("content-length", "0")  # else the notifier reads to the close
            request.end_headers()
            receiver.refusals += 1
            refused.release()

        handler.do_POST = switched  # type: ignore[attr-defined]


@pytest.fixture
def refusing_endpoint() -> Iterator[str]:
    """An endpoint whose port is held (bound, never listening): every connection is refused,
    and no other socket of the test can take the port."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{held.getsockname()[1]}/notify"
    held.close()


def test_a_dead_endpoints_backlog_holds_back_no_other_subscription(
    client: TestClient, refusing_endpoint: str
) -> None:
    """1,400 notifications wait behind a failed one for an endpoint that refuses them.
    Another subscription's notification, queued after all of them and failed once, goes out
    at its retry (the oldest 500 due deliveries used to be read and dropped, all of the dead
    endpoint's even while 500 more were out for their retry: the other one waited for the
    whole backlog)."""
    dead = client.post(S, json=subscription(refusing_endpoint))
    for start in (0, 700):
        batch = [
            {"id": f"urn:ngsi-ld:Vehicle:q{n}", "type": "Vehicle", "speed": n}
            for n in range(start, start + 700)
        ]
        assert client.post("/ngsi-ld/v1/entityOperations/create", json=batch).status_code == 201
    deadline = time.monotonic() + 10
    while "timesFailed" not in client.get(dead.headers["location"]).json()["notification"]:
        assert time.monotonic() < deadline, "the dead endpoint was never tried"
        time.sleep(0.05)
    receiver = SwitchedReceiver()
    try:
        # on another type: the notifier may still be matching the batches' changes when this
        # subscription appears, and it matches a change against the subscriptions it then has
        other = {**subscription(receiver.url), "entities": [{"type": "Bus"}]}
        client.post(S, json=other)
        body = {"id": "urn:ngsi-ld:Bus:after", "type": "Bus", "speed": 1000}
        assert client.post(E, json=body).status_code == 201
        assert receiver.refused.acquire(timeout=10), "the other endpoint was never tried"
        receiver.up.set()
        assert speed(receiver.next(timeout=5)[1]) == 1000  # its retry is due after 0.5 s
        assert client.get(dead.headers["location"]).json()["notification"]["status"] == "failed"
    finally:
        receiver.close()


def test_an_endpoint_gone_for_good_does_not_keep_every_notification(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given up after its attempts (12 over ~13.5 min; here 2, 2 s apart), a notification
    takes with it those queued behind it untried, also those queued after its first attempt:
    once the endpoint answers again it gets what was queued since, not the whole history of
    its absence."""
    monkeypatch.setattr(sender, "MAX_ATTEMPTS", 2)
    # 2 s: the later notifications are queued well before the retries, on a loaded machine too
    monkeypatch.setattr(sender, "retry_delay", lambda attempts: 2.0)
    receiver = SwitchedReceiver()  # down: it refuses every notification
    try:
        client.post(S, json=subscription(receiver.url))
        batch = [
            {"id": f"urn:ngsi-ld:Vehicle:g{n}", "type": "Vehicle", "speed": n} for n in range(50)
        ]
        assert client.post("/ngsi-ld/v1/entityOperations/create", json=batch).status_code == 201
        assert receiver.refused.acquire(timeout=10), "the endpoint was never tried"
        first = settled(lambda: receiver.refusals)  # each connection's first notification
        # queued behind the failed ones, after their first attempt
        later = [
            {"id": f"urn:ngsi-ld:Vehicle:g{n}", "type": "Vehicle", "speed": n}
            for n in range(50, 55)
        ]
        assert client.post("/ngsi-ld/v1/entityOperations/create", json=later).status_code == 201
        deadline = time.monotonic() + 15
        while receiver.refusals < 2 * first:  # their retries, refused: given up
            assert time.monotonic() < deadline, "the failed notifications were not retried"
            time.sleep(0.02)
        # anything left behind them would be tried now, refused, and retried 2 s later
        settled(lambda: receiver.refusals)
        receiver.up.set()
        body = {"id": "urn:ngsi-ld:Vehicle:back", "type": "Vehicle", "speed": 1000}
        assert client.post(E, json=body).status_code == 201
        assert speed(receiver.next(timeout=5)[1]) == 1000
        with pytest.raises(queue.Empty):
            receiver.next(timeout=2.5)
    finally:
        receiver.close()


def settled(count: Callable[[], int], quiet: float = 0.3) -> int:
    """`count()` once it has not changed for `quiet` seconds."""
    value, since = count(), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.02)
        if count() != value:
            value, since = count(), time.monotonic()
    return value


def test_failed_notifications_are_retried_and_arrive_in_order(client: TestClient) -> None:
    port = free_port()  # nobody listens there yet: the first attempts fail
    client.post(S, json=subscription(f"http://127.0.0.1:{port}/notify"))
    client.post(E, json={"id": "urn:ngsi-ld:Vehicle:r", "type": "Vehicle", "speed": 0})
    for value in range(1, 6):
        client.patch(f"{E}/urn:ngsi-ld:Vehicle:r/attrs/speed", json={"value": value})
    time.sleep(0.5)
    receiver = Receiver(port)
    try:
        got = [speed(receiver.next(timeout=10)[1]) for _ in range(6)]
        assert got == [0, 1, 2, 3, 4, 5]
        with pytest.raises(queue.Empty):
            receiver.next(timeout=0.5)
    finally:
        receiver.close()


class SlowReceiver(Receiver):
    """A receiver that takes `delay` (50 ms) to answer each notification, on many connections,
    and counts how many it was answering at once."""

    def __init__(self, delay: float = 0.05) -> None:
        super().__init__()
        handler = self.server.RequestHandlerClass
        answer = handler.do_POST  # type: ignore[attr-defined]
        self.busiest = 0
        answering = 0
        lock = threading.Lock()

        def slow(request: Any) -> None:
            nonlocal answering
            with lock:
                answering += 1
                self.busiest = max(self.busiest, answering)
            try:
                time.sleep(delay)
                answer(request)
            finally:
                with lock:
                    answering -= 1

        handler.do_POST = slow  # type: ignore[attr-defined]


def test_a_slow_receiver_gets_each_entity_in_order_over_several_connections(
    client: TestClient,
) -> None:
    receiver = SlowReceiver()
    try:
        client.post(S, json=subscription(receiver.url))
        entities, updates = 16, 5
        for n in range(entities):
            client.post(E, json={"id": f"urn:ngsi-ld:Vehicle:o{n}", "type": "Vehicle", "speed": 0})
        started = time.monotonic()
        for value in range(1, updates):
            for n in range(entities):
                url = f"{E}/urn:ngsi-ld:Vehicle:o{n}/attrs/speed"
                assert client.patch(url, json={"value": value}).status_code == 204
        seen: dict[str, list[int]] = {}
        for _ in range(entities * updates):
            entity = receiver.next(timeout=10)[1]["data"][0]
            seen.setdefault(entity["id"], []).append(entity["speed"])
        elapsed = time.monotonic() - started
        assert all(values == list(range(updates)) for values in seen.values()), seen
        assert len(seen) == entities
        # several notifications were in flight at once (one at a time, the 80 answers of 50 ms
        # would take 4 s or more)
        assert receiver.busiest >= 4, (receiver.busiest, f"{elapsed:.2f} s")
    finally:
        receiver.close()


def _notifier(dsn: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DALGU_STORE": "postgres", "DALGU_POSTGRES_DSN": dsn}
    return subprocess.Popen(
        [sys.executable, "-m", "dalgu", "notifier"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.mark.slow
def test_several_notifiers_on_postgres_send_each_notification_once_in_order(
    tmp_path: Path, dsn: str | None
) -> None:
    if dsn is None:
        pytest.skip("one notifier works on an SQLite file")
    port = free_port()
    server = start_server(tmp_path / "unused.db", port, postgres_dsn=dsn)  # and its notifier
    others = [_notifier(dsn), _notifier(dsn)]
    receiver = Receiver()
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.post("/subscriptions", json=subscription(receiver.url)).status_code == 201
            time.sleep(1)  # every notifier listens
            entities = [f"urn:ngsi-ld:Vehicle:m{n}" for n in range(4)]
            for entity in entities:
                http.post("/entities", json={"id": entity, "type": "Vehicle", "speed": -1})
            for value in range(50):
                for entity in entities:
                    response = http.patch(f"/entities/{entity}/attrs/speed", json={"value": value})
                    assert response.status_code == 204
        seen: dict[str, list[int]] = {entity: [] for entity in entities}
        for _ in range(len(entities) * 51):
            data = receiver.next(timeout=10)[1]["data"][0]
            seen[data["id"]].append(data["speed"])
        for entity in entities:
            assert seen[entity] == list(range(-1, 50)), entity  # each once, in order
        with pytest.raises(queue.Empty):
            receiver.next(timeout=1)
    finally:
        receiver.close()
        for process in others:
            kill_server(process)
        kill_server(server)


def test_a_backlog_longer_than_its_lease_is_sent_once_in_order(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receiver slower than the updates: what the notifier holds for it outlives the lease of
    its deliveries (30 s; 0.4 s here). Those must not be taken and queued a second time."""
    from dalgu.store.postgres import subscriptions as postgres_deliveries
    from dalgu.store.sqlite import subscriptions as sqlite_deliveries

    monkeypatch.setattr(sqlite_deliveries, "LEASE", 0.4)
    monkeypatch.setattr(postgres_deliveries, "LEASE", 0.4)
    receiver = SlowReceiver()
    try:
        client.post(S, json=subscription(receiver.url))
        client.post(E, json={"id": "urn:ngsi-ld:Vehicle:slow", "type": "Vehicle", "speed": 0})
        updates = 40  # one entity: one connection, 50 ms each, ~2 s in all
        for value in range(1, updates):
            url = f"{E}/urn:ngsi-ld:Vehicle:slow/attrs/speed"
            assert client.patch(url, json={"value": value}).status_code == 204
        got = [speed(receiver.next(timeout=10)[1]) for _ in range(updates)]
        assert got == list(range(updates))
        with pytest.raises(queue.Empty):  # and nothing twice
            extra = speed(receiver.next(timeout=1.5)[1])
            pytest.fail(f"notified again: speed {extra}")
    finally:
        receiver.close()


def test_a_slow_endpoints_backlog_waits_in_the_store_not_in_the_notifier(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notifier holds at most `HOLD` of one subscription's deliveries (5 here); the rest
    wait in the store, and still go out once each, in order, after the held ones."""
    monkeypatch.setattr(sender, "HOLD", 5)
    most = 0
    dispatch = sender.NotificationSender.dispatch

    async def watched(self: sender.NotificationSender, deliveries: list[Any]) -> None:
        nonlocal most
        await dispatch(self, deliveries)
        most = max([most, *self._holding.values()])

    monkeypatch.setattr(sender.NotificationSender, "dispatch", watched)
    receiver = SlowReceiver()
    try:
        client.post(S, json=subscription(receiver.url))
        client.post(E, json={"id": "urn:ngsi-ld:Vehicle:held", "type": "Vehicle", "speed": 0})
        updates = 30
        for value in range(1, updates):
            url = f"{E}/urn:ngsi-ld:Vehicle:held/attrs/speed"
            assert client.patch(url, json={"value": value}).status_code == 204
        got = [speed(receiver.next(timeout=10)[1]) for _ in range(updates)]
        assert got == list(range(updates))
        with pytest.raises(queue.Empty):
            receiver.next(timeout=1.0)
        assert 0 < most <= 5
    finally:
        receiver.close()


@pytest.mark.slow
@pytest.mark.parametrize("bound", ["HOLD", "TAKE"])
def test_a_backlog_past_its_limit_loses_its_oldest_and_keeps_the_newest(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    bound: str,
) -> None:
    """`notification_backlog` (10 here): an endpoint much slower than its updates gets what
    was held, then the newest; what is between is dropped, and said. The sender finds it
    behind when it holds `HOLD` (5 here) and gives back the rest, or, on PostgreSQL, whose
    takes bring one run of at most `TAKE` (10 here) and nothing more while it is held, when it
    holds `BEHIND` (5 here)."""
    if bound == "HOLD":
        monkeypatch.setattr(sender, "HOLD", 5)
    else:
        if settings.store != "postgres":
            pytest.skip("SQLite takes every new notification as it is queued: HOLD bounds it")
        monkeypatch.setattr(sender, "TAKE", 10)
        monkeypatch.setattr(sender, "BEHIND", 5)
    # 250 ms an answer: slower than the updates even on a loaded machine (at 50 ms, updates
    # slowed by a busy machine came no faster than they were sent, and none was dropped)
    receiver = SlowReceiver(delay=0.25)
    limited = settings.model_copy(update={"notification_backlog": 10})
    try:
        with TestClient(build_app(limited)) as client:
            client.post(S, json=subscription(receiver.url))
            client.post(E, json={"id": "urn:ngsi-ld:Vehicle:far", "type": "Vehicle", "speed": 0})
            updates = 80  # one connection, 250 ms each: 20 s to send them all
            for value in range(1, updates):
                url = f"{E}/urn:ngsi-ld:Vehicle:far/attrs/speed"
                assert client.patch(url, json={"value": value}).status_code == 204
            got: list[int] = []
            while not got or got[-1] != updates - 1:
                got.append(speed(receiver.next(timeout=10)[1]))
        assert got == sorted(set(got))  # in order, none twice
        assert len(got) < updates  # some were dropped ...
        assert got[-10:] == list(range(updates - 10, updates))  # ... never the newest ten
        assert any("notifications dropped" in r.getMessage() for r in caplog.records)
    finally:
        receiver.close()


def test_no_notification_is_tried_again_before_the_endpoints_cooldown(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clause 5.2.15: after a failure, `cooldown` (milliseconds) must pass before the endpoint
    is tried again. (Dalgu keeps what comes in the meantime and sends it after, in order.)"""
    monkeypatch.setattr(sender, "retry_delay", lambda attempts: 0.2)
    port = free_port()  # nobody listens there yet: the first attempt fails
    endpoint = {"uri": f"http://127.0.0.1:{port}/notify", "cooldown": 3000}
    body = subscription(endpoint["uri"])
    body["notification"]["endpoint"] = endpoint
    assert client.post(S, json=body).status_code == 201
    began = time.monotonic()
    client.post(E, json={"id": "urn:ngsi-ld:Vehicle:c", "type": "Vehicle", "speed": 0})
    time.sleep(0.5)
    receiver = Receiver(port)
    try:
        assert speed(receiver.next(timeout=10)[1]) == 0
        assert time.monotonic() - began >= 2.9  # not at the 0.2 s retry
    finally:
        receiver.close()
