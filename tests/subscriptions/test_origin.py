"""A subscription is notified of the changes made after it was created, never of those made
before, however late the notifier matches them (it lags under load, or was down)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest_asyncio

from dalgu.broker.mutations import create, replace
from dalgu.ldcontext import ContextResolver
from dalgu.settings import Settings
from dalgu.store.factory import open_store
from dalgu.subscriptions.notifier import Notifier
from dalgu.subscriptions.service import NOTIFIER
from tests.store.test_sqlite_store import thing

N = "https://example.org/n"
NOW = 4e9  # later than any queued delivery is due


@pytest_asyncio.fixture
async def store(settings: Settings) -> AsyncIterator[Any]:
    the_store = open_store(settings)
    await the_store.open()
    await the_store.start_consumer(NOTIFIER)
    yield the_store
    await the_store.close()


def subscription(name: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Subscription:{name}",
        "type": "Subscription",
        "entities": [{"type": "https://example.org/Thing"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/", "accept": "application/json"}},
        "createdAt": "2026-12-06T00:00:00Z",
        "modifiedAt": "2026-12-06T00:00:00Z",
    }


async def notified(store: Any) -> dict[str, list[tuple[str, Any]]]:
    """What the notifier queued, by subscription: (entity id, value of n) per notification."""
    out: dict[str, list[tuple[str, Any]]] = {}
    for delivery in await store.due_deliveries(NOW, 1000):
        for entity in orjson.loads(delivery.payload)["data"]:
            value = entity.get(N, entity.get("n"))
            if isinstance(value, dict):
                value = value.get("value")
            out.setdefault(delivery.subscription_id, []).append((entity["id"], value))
    return out


async def test_changes_made_before_a_subscription_are_not_notified_to_it(store: Any) -> None:
    first, second = subscription("first"), subscription("second")
    await store.put_subscription("", first["id"], first, create=True)
    await store.mutate("", [("urn:ngsi-ld:Thing:1", create(thing(1)))])
    await store.mutate("", [("urn:ngsi-ld:Thing:2", create(thing(2)))])
    # created while the notifier has matched nothing yet: the two creates are in the outbox
    await store.put_subscription("", second["id"], second, create=True)
    changed = {**thing(1), N: [{"type": "Property", "value": 10}]}
    await store.mutate("", [("urn:ngsi-ld:Thing:1", replace(changed))])
    await store.mutate("", [("urn:ngsi-ld:Thing:3", create(thing(3)))])

    notifier = Notifier(store, ContextResolver(), store)
    assert await notifier.match_pending() == 4 + 2
    got = await notified(store)
    assert sorted(got[first["id"]]) == [
        ("urn:ngsi-ld:Thing:1", 1),
        ("urn:ngsi-ld:Thing:1", 10),
        ("urn:ngsi-ld:Thing:2", 2),
        ("urn:ngsi-ld:Thing:3", 3),
    ]
    assert sorted(got[second["id"]]) == [("urn:ngsi-ld:Thing:1", 10), ("urn:ngsi-ld:Thing:3", 3)]


async def test_a_subscription_updated_later_keeps_the_changes_made_since_its_creation(
    store: Any,
) -> None:
    """Its origin is its creation: an update (a new q, paused and resumed) does not move it."""
    sub = subscription("updated")
    await store.put_subscription("", sub["id"], sub, create=True)
    await store.mutate("", [("urn:ngsi-ld:Thing:1", create(thing(1)))])
    updated = {**sub, "modifiedAt": "2026-12-06T00:00:01Z", "q": "https://example.org/n>0"}
    await store.put_subscription("", sub["id"], updated, create=False)
    await store.mutate("", [("urn:ngsi-ld:Thing:2", create(thing(2)))])
    notifier = Notifier(store, ContextResolver(), store)
    await notifier.match_pending()
    got = await notified(store)
    assert sorted(got[sub["id"]]) == [("urn:ngsi-ld:Thing:1", 1), ("urn:ngsi-ld:Thing:2", 2)]
