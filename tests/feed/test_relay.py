"""The relay on each store, against the local NATS server: every change published once, in
order, only then forgotten; nothing lost while NATS is away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from dalgu.broker.mutations import create, delete, replace
from dalgu.errors import FeedUnavailable
from dalgu.feed.jetstream import JetStreamFeed
from dalgu.feed.relay import CONSUMER, ChangeRelay
from dalgu.ldcontext import ContextResolver
from dalgu.settings import Settings
from dalgu.store.base import SubscriptionStore
from dalgu.store.factory import open_store
from dalgu.subscriptions.notifier import Notifier
from dalgu.subscriptions.service import NOTIFIER
from tests.feed.stream import NATS_URL, Stream, received, stream
from tests.ports import free_port
from tests.store.test_sqlite_store import thing

__all__ = ["stream"]

N = "https://example.org/n"


@pytest_asyncio.fixture
async def store(settings: Settings) -> AsyncIterator[Any]:
    the_store = open_store(settings.model_copy(update={"change_feed": "nats"}))
    await the_store.open()
    assert isinstance(the_store, SubscriptionStore) and the_store.record_all_changes
    yield the_store
    await the_store.close()


def relay(store: Any, stream: Stream, url: str = NATS_URL) -> ChangeRelay:
    return ChangeRelay(store, JetStreamFeed(url, stream.name, stream.prefix, 3600))


async def test_every_change_is_published_once_in_order(store: Any, stream: Stream) -> None:
    await store.mutate("", [(f"urn:ngsi-ld:Thing:{n}", create(thing(n))) for n in range(3)])
    changed = {**thing(1), N: [{"type": "Property", "value": 10}]}
    await store.mutate("daegu", [("urn:ngsi-ld:Thing:1", create(thing(1)))])
    await store.mutate("daegu", [("urn:ngsi-ld:Thing:1", replace(changed))])
    await store.mutate("daegu", [("urn:ngsi-ld:Thing:1", delete("urn:ngsi-ld:Thing:1"))])
    the_relay = relay(store, stream)
    await store.start_consumer(CONSUMER)
    try:
        assert await the_relay.relay_pending() == 6
        assert await the_relay.relay_pending() == 0  # the cursor moved past them
    finally:
        await the_relay.stop()
    messages = await received(stream)
    assert [(m.body["tenant"], m.body["entityId"], m.body["operation"]) for m in messages] == [
        ("", "urn:ngsi-ld:Thing:0", "create"),
        ("", "urn:ngsi-ld:Thing:1", "create"),
        ("", "urn:ngsi-ld:Thing:2", "create"),
        ("daegu", "urn:ngsi-ld:Thing:1", "create"),
        ("daegu", "urn:ngsi-ld:Thing:1", "update"),
        ("daegu", "urn:ngsi-ld:Thing:1", "delete"),
    ]
    assert messages[0].subject == f"{stream.prefix}._default.Thing"
    assert messages[4].subject == f"{stream.prefix}.daegu.Thing"
    assert messages[4].body["before"][N]["value"] == 1
    assert messages[4].body["after"][N]["value"] == 10
    assert len({m.msg_id for m in messages}) == 6


async def test_the_relay_forgets_no_change_a_started_notifier_has_not_matched(
    store: Any, stream: Stream
) -> None:
    """A notifier that has started, found nothing and stopped (a restart, `kill -9`) before
    its first match: the changes written meanwhile wait for it, though the relay has published
    and forgotten past them. Its cursor used to appear with its first match, so the relay
    forgot them and the first notifications of a fresh database could be lost."""
    await store.start_consumer(CONSUMER)
    notifier = Notifier(store, ContextResolver(), store)
    notifier.start()
    await asyncio.sleep(0.3)  # it looks at the outbox (empty) at once
    await notifier.stop()
    await store.mutate("", [("urn:ngsi-ld:Thing:7", create(thing(7)))])
    the_relay = relay(store, stream)
    try:
        assert await the_relay.relay_pending() == 1  # published, and forgotten past
    finally:
        await the_relay.stop()
    waiting = await store.changes_after(NOTIFIER, 10)
    assert [c.entity_id for c in waiting] == ["urn:ngsi-ld:Thing:7"]


async def test_nothing_is_lost_while_nats_is_away(store: Any, stream: Stream) -> None:
    await store.start_consumer(CONSUMER)
    await store.mutate("", [("urn:ngsi-ld:Thing:1", create(thing(1)))])
    away = relay(store, stream, url=f"nats://127.0.0.1:{free_port()}")
    with pytest.raises(FeedUnavailable):
        await away.relay_pending()
    await away.stop()
    await store.mutate("", [("urn:ngsi-ld:Thing:2", create(thing(2)))])
    back = relay(store, stream)
    try:
        assert await back.relay_pending() == 2
    finally:
        await back.stop()
    assert [m.body["entityId"] for m in await received(stream)] == [
        "urn:ngsi-ld:Thing:1",
        "urn:ngsi-ld:Thing:2",
    ]


async def test_a_batch_published_again_is_kept_once(store: Any, stream: Stream) -> None:
    """A crash after JetStream acknowledged a batch and before the cursor moved: the next
    relay publishes the batch again, and the stream keeps one copy."""
    await store.start_consumer(CONSUMER)
    await store.mutate("", [(f"urn:ngsi-ld:Thing:{n}", create(thing(n))) for n in range(4)])
    first = relay(store, stream)
    changes = await store.changes_after(CONSUMER, 100)
    from dalgu.feed.message import feed_messages
    from dalgu.ldcontext.resolver import core_terms

    await first.feed.publish(feed_messages(stream.prefix, changes, core_terms()))  # no commit
    await first.stop()
    second = relay(store, stream)
    try:
        assert await second.relay_pending() == 4
    finally:
        await second.stop()
    assert len(await received(stream)) == 4


async def test_a_stopped_feed_no_longer_holds_the_outbox(store: Any) -> None:
    await store.start_consumer(CONSUMER)
    await store.start_consumer("notifier")
    await store.mutate("", [("urn:ngsi-ld:Thing:1", create(thing(1)))])
    read = await store.changes_after("notifier", 100)
    await store.commit_changes("notifier", read[-1].seq, [])
    assert len(await store.changes_after(CONSUMER, 100)) == 1  # kept for the feed
    await store.stop_consumer(CONSUMER)
    await store.start_consumer("another")  # starts at the oldest change still kept
    assert await store.changes_after("another", 100) == []


async def test_a_stream_with_other_subjects_is_not_taken_over(stream: Stream) -> None:
    feed = JetStreamFeed(NATS_URL, stream.name, stream.prefix, 3600)
    await feed.open()
    await feed.close()
    other = JetStreamFeed(NATS_URL, stream.name, "elsewhere.changes", 3600)
    with pytest.raises(FeedUnavailable, match="exists without the subjects"):
        await other.open()
