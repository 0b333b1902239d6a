"""Relay the outbox's changes to the feed, each only after the feed has acknowledged it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from dalgu.background import cancel_and_wait
from dalgu.errors import FeedUnavailable
from dalgu.feed.message import FeedMessage, feed_messages
from dalgu.ldcontext.resolver import core_terms
from dalgu.store.base import SubscriptionStore

if TYPE_CHECKING:
    from dalgu.settings import Settings

log = logging.getLogger("dalgu.feed")
CONSUMER = "feed"  # the relay's cursor in the outbox
BATCH = 500
#: seconds between looks at the outbox: the notifier of its process wakes it at each commit
#: that wrote to the outbox (`Notifier.followers`); this bounds the wait when nothing does
IDLE = 0.05
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # after a feed failure, the first, second…


class Followed(Protocol):
    """What wakes the relay: a notifier, which is woken at each commit to the outbox."""

    followers: list[Callable[[], None]]


class Feed(Protocol):
    prefix: str  # of its subjects

    async def open(self) -> None: ...

    async def publish(self, messages: list[FeedMessage]) -> None: ...

    async def close(self) -> None: ...


class ChangeRelay:
    """Reads the outbox past its cursor, publishes, then moves the cursor (at-least-once; the
    feed drops a change published twice by its id)."""

    def __init__(self, store: SubscriptionStore, feed: Feed) -> None:
        self.store = store
        self.feed = feed
        self._terms = core_terms()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def relay_pending(self) -> int:
        """Publish every change past the cursor; how many. FeedUnavailable leaves the cursor
        where it was."""
        total = 0
        while True:
            changes = await self.store.changes_after(CONSUMER, BATCH)
            if not changes:
                return total
            await self.feed.publish(feed_messages(self.feed.prefix, changes, self._terms))
            await self.store.commit_changes(CONSUMER, changes[-1].seq, [])
            total += len(changes)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="dalgu-change-relay")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        await self.feed.close()

    async def run(self) -> None:
        await self.store.start_consumer(CONSUMER)
        try:  # the stream exists from the start, before any change, for readers to follow
            await self.feed.open()
        except FeedUnavailable as error:
            log.warning("change feed: %s; the first batch tries again", error)
        failures = 0
        while True:
            self._wake.clear()
            try:
                await self.relay_pending()
            except asyncio.CancelledError:
                raise
            except FeedUnavailable as error:
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                log.warning("change feed: %s; trying again in %.1f s", error, delay)
                await asyncio.sleep(delay)
                continue
            except Exception:  # the store's trouble: keep relaying whatever one batch did
                log.exception("change feed: relaying failed")
                await asyncio.sleep(RETRY_DELAYS[0])
                continue
            if failures:
                log.info("change feed: publishing again")
            failures = 0
            if not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=IDLE)


def change_relay(settings: Settings, store: SubscriptionStore) -> ChangeRelay:
    """The relay the settings ask for (`change_feed = "nats"`)."""
    from dalgu.feed.jetstream import JetStreamFeed

    feed = JetStreamFeed(
        settings.nats_url, settings.nats_stream, settings.nats_subject, settings.nats_max_age
    )
    return ChangeRelay(store, feed)


async def start_feed(
    settings: Settings, store: SubscriptionStore, notifier: Followed
) -> ChangeRelay | None:
    """Beside a notifier: the relay, started and woken with the notifier, when the settings
    ask for the feed; otherwise the feed's cursor is dropped, so that the outbox does not
    keep changes for a feed that no longer reads them."""
    if settings.change_feed == "off":
        await store.stop_consumer(CONSUMER)
        return None
    relay = change_relay(settings, store)
    notifier.followers.append(relay.wake)
    relay.start()
    log.info("change feed: publishing to %s, stream %s", settings.nats_url, settings.nats_stream)
    return relay
