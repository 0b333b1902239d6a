"""A JetStream stream of its own for each test, on the local NATS server, and reading it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import nats
import pytest_asyncio
from nats.js.errors import NotFoundError

NATS_URL = "nats://127.0.0.1:4222"


@dataclass(frozen=True)
class Stream:
    name: str
    prefix: str


@dataclass(frozen=True)
class Received:
    subject: str
    msg_id: str
    body: dict[str, Any]


@pytest_asyncio.fixture
async def stream() -> AsyncIterator[Stream]:
    tag = uuid.uuid4().hex[:10]
    yield Stream(f"DALGU_TEST_{tag}", f"test{tag}.changes")
    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(f"DALGU_TEST_{tag}")
    except NotFoundError:
        pass
    finally:
        await nc.close()


async def received(stream: Stream, wait: float = 1.0) -> list[Received]:
    """Every message the stream holds, oldest first (none before it exists)."""
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        try:
            subscription = await js.pull_subscribe(f"{stream.prefix}.>", stream=stream.name)
        except NotFoundError:  # not created yet: nothing published
            return []
        found: list[Received] = []
        while True:
            try:
                batch = await subscription.fetch(100, timeout=wait)
            except TimeoutError:
                return found
            for message in batch:
                headers = message.headers or {}
                found.append(
                    Received(
                        message.subject, headers.get("Nats-Msg-Id", ""), json.loads(message.data)
                    )
                )
                await message.ack()
    finally:
        await nc.close()
