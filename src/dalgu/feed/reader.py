"""Reading the change feed back: an ordered, ephemeral consumer on the stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import nats
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from dalgu.errors import FeedUnavailable
from dalgu.feed.jetstream import connect


async def tail(
    url: str,
    stream: str,
    subject: str,
    emit: Callable[[bytes], None],
    *,
    from_start: bool = False,
    count: int | None = None,
    idle: float | None = None,
    ready: Callable[[], None] | None = None,
) -> int:
    """Call `emit` with each change's body on `subject` (wildcards allowed), in the stream's
    order: those from now on, or every one the stream keeps (`from_start`). Ends after `count`
    changes, or `idle` seconds without one, or when cancelled; how many were emitted. `ready`
    is called once the consumer is in place: a change committed after it is emitted."""
    nc = await connect(url)
    seen = 0
    done = asyncio.Event()
    moved = asyncio.Event()

    async def on_message(message: Msg) -> None:
        nonlocal seen
        if done.is_set():
            return
        emit(message.data)
        seen += 1
        moved.set()
        if count is not None and seen >= count:
            done.set()

    try:
        policy = DeliverPolicy.ALL if from_start else DeliverPolicy.NEW
        try:
            subscription = await nc.jetstream().subscribe(
                subject,
                stream=stream,
                cb=on_message,
                ordered_consumer=True,
                config=ConsumerConfig(deliver_policy=policy),
            )
        except nats.js.errors.NotFoundError:
            raise FeedUnavailable(f"no stream {stream} on {url}") from None
        if ready is not None:
            ready()
        while not done.is_set():
            moved.clear()
            try:
                await asyncio.wait_for(moved.wait(), idle)
            except TimeoutError:
                break
        await subscription.unsubscribe()
    finally:
        await nc.close()
    return seen
