"""Publishing the change feed to a NATS JetStream stream, each batch acknowledged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from dalgu.errors import FeedUnavailable
from dalgu.feed.message import FeedMessage

log = logging.getLogger("dalgu.feed")
DUPLICATE_WINDOW = 120.0  # seconds JetStream remembers a message id
ACK_TIMEOUT = 10.0  # seconds a batch waits for its acknowledgements


async def connect(url: str) -> Client:
    """A connection to NATS at `url`, or FeedUnavailable at once (two tries). The client does
    not reconnect by itself: a failure reaches its user, which backs off and connects again."""
    try:
        return await nats.connect(
            url,
            connect_timeout=2,
            allow_reconnect=False,
            max_reconnect_attempts=1,  # the first connection: two tries, not sixty
            reconnect_time_wait=0.2,
            error_cb=_quiet,
        )
    except (OSError, TimeoutError, nats.errors.Error) as error:
        raise FeedUnavailable(f"NATS at {url}: {error or type(error).__name__}") from None


class JetStreamFeed:
    """The stream `stream` holding subjects `<prefix>.>`, created if missing."""

    def __init__(self, url: str, stream: str, prefix: str, max_age: float) -> None:
        self.url = url
        self.stream = stream
        self.prefix = prefix
        self.max_age = max_age
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    async def open(self) -> None:
        """Connect and make sure the stream exists; FeedUnavailable when NATS cannot be had."""
        nc = await connect(self.url)
        js = nc.jetstream()
        try:
            await self._ensure_stream(js)
        except (TimeoutError, nats.errors.Error) as error:
            await nc.close()
            raise FeedUnavailable(f"stream {self.stream}: {error}") from None
        self._nc, self._js = nc, js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        subjects = [f"{self.prefix}.>"]
        try:
            info = await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=self.stream,
                    subjects=subjects,
                    max_age=self.max_age,
                    duplicate_window=DUPLICATE_WINDOW,
                )
            )
            log.info("created JetStream stream %s for %s", self.stream, subjects[0])
            return
        config = info.config
        if subjects[0] not in (config.subjects or []):
            raise FeedUnavailable(
                f"stream {self.stream} exists without the subjects {subjects[0]} "
                f"(it has {config.subjects}): choose another nats_stream or nats_subject"
            )

    async def publish(self, messages: Sequence[FeedMessage]) -> None:
        """Publish in order and wait until JetStream has acknowledged every one."""
        if self._js is None:
            await self.open()
        js = self._js
        assert js is not None
        try:
            pending = [
                await js.publish_async(
                    m.subject, m.body, headers={"Nats-Msg-Id": m.msg_id}, stream=self.stream
                )
                for m in messages
            ]
            await asyncio.wait_for(asyncio.gather(*pending), ACK_TIMEOUT)
        except (OSError, TimeoutError, nats.errors.Error) as error:
            await self.close()  # the next batch connects again
            raise FeedUnavailable(f"publishing to {self.stream}: {error or 'timed out'}") from None

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            try:
                await nc.close()
            except (OSError, TimeoutError, nats.errors.Error) as error:
                log.debug("closing the NATS connection: %s", error)


async def _quiet(error: Exception) -> None:
    log.debug("NATS: %s", error)
