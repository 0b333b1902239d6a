"""A write that many subscriptions match (a fan-out) is queued and sent in parts of
`COMMIT_EVERY` notifications, each part committed with the changes it covers, so the notifier
never builds the whole fan-out in memory first (an outside test: 250,000 notifications of one
batch held 1.2 GB for 30 s before the first left). Every notification still arrives once."""

from __future__ import annotations

import queue
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.subscriptions import notifier, sender
from tests.receiver import Receiver

S = "/ngsi-ld/v1/subscriptions"
UPSERT = "/ngsi-ld/v1/entityOperations/upsert"


def subscribe(client: TestClient, receiver: Receiver, many: int) -> None:
    """`many` subscriptions to every Spot's `status`, each notifying `receiver`."""
    for n in range(many):
        body = {
            "type": "Subscription",
            "entities": [{"type": "Spot"}],
            "watchedAttributes": ["status"],
            "description": f"s{n}",
            "notification": {"endpoint": {"uri": receiver.url}, "format": "keyValues"},
        }
        assert client.post(S, json=body).status_code == 201


def test_a_fan_out_is_committed_in_parts_and_delivered_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifier, "COMMIT_EVERY", 7)
    store = client.app.state.dalgu.store  # type: ignore[attr-defined]
    commits: list[int] = []
    original = store.commit_changes

    async def counted(consumer: str, last_seq: int, deliveries: Any) -> Any:
        commits.append(len(deliveries))
        return await original(consumer, last_seq, deliveries)

    monkeypatch.setattr(store, "commit_changes", counted)
    receiver = Receiver()
    try:
        subscribe(client, receiver, 6)
        spots = [
            {
                "id": f"urn:ngsi-ld:Spot:{n}",
                "type": "Spot",
                "status": {"type": "Property", "value": "free"},
            }
            for n in range(10)
        ]
        assert client.post(UPSERT, json=spots).status_code == 201
        seen: list[tuple[str, str]] = []
        while len(seen) < 60:
            try:
                _, note = receiver.next(timeout=15)
            except queue.Empty:
                break
            seen.extend((note["subscriptionId"], e["id"]) for e in note["data"])
        assert len(seen) == 60 and len(set(seen)) == 60, sorted(seen)
        with pytest.raises(queue.Empty):
            receiver.next(timeout=0.5)  # nothing twice
        # six notifications a change: a part closes at the first change past 7 queued
        fan_out = [n for n in commits if n]
        assert sum(fan_out) == 60 and len(fan_out) >= 5 and max(fan_out) <= 12, commits
    finally:
        receiver.close()


def test_the_sender_holds_at_most_hold_all_and_sends_the_rest_in_order(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `HOLD_ALL` held notifications (all subscriptions together) the rest wait in the
    store: an outside test's 250,000-notification write held ~1 GB in the notifier."""
    monkeypatch.setattr(sender, "HOLD_ALL", 5)
    held: list[int] = []
    original = sender.NotificationSender.dispatch

    async def watched(self: sender.NotificationSender, deliveries: Any) -> None:
        await original(self, deliveries)
        held.append(len(self._held))

    monkeypatch.setattr(sender.NotificationSender, "dispatch", watched)
    receiver = Receiver()
    try:
        subscribe(client, receiver, 4)
        for value in range(3):  # three versions of each spot, in order per subscription
            spots = [
                {"id": f"urn:ngsi-ld:Spot:{n}", "type": "Spot", "status": value} for n in range(5)
            ]
            response = client.post(UPSERT, json=spots, params={"options": "keyValues"})
            assert response.status_code in (201, 204), response.text
        got: dict[tuple[str, str], list[int]] = {}
        for _ in range(60):
            _, note = receiver.next(timeout=15)
            for entity in note["data"]:
                got.setdefault((note["subscriptionId"], entity["id"]), []).append(entity["status"])
        assert len(got) == 20 and all(v == [0, 1, 2] for v in got.values()), got
        assert held and max(held) <= 5, held
    finally:
        receiver.close()
