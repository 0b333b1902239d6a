"""The embedded broker hands a retained message only to a subscription whose filter matches
its topic (MQTT 3.1.1 3.3.1.3): a client knowing no key learns none from retained messages."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import aiomqtt
from starlette.testclient import TestClient


async def _retain(port: int, topic: str, payload: bytes) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"dev-{uuid.uuid4().hex[:6]}") as c:
        await c.publish(topic, payload, qos=1, retain=True)


async def _heard(port: int, topic_filter: str, seconds: float = 1.5) -> list[str]:
    heard: list[str] = []
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"spy-{uuid.uuid4().hex[:6]}") as c:
        await c.subscribe(topic_filter, qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                async for message in c.messages:
                    heard.append(str(message.topic))
    return heard


def test_a_retained_measure_reaches_no_subscription_it_does_not_match(
    embedded: tuple[TestClient, int],
) -> None:
    """MQTT 3.1.1 3.3.1.3: retained messages go to "a new subscription … whose Topic Filter
    matches"; docs/testbed.md: "a client reaches only the topics of a key it knows"."""
    _, port = embedded
    secret = f"k{uuid.uuid4().hex[:12]}"

    async def scenario() -> tuple[list[str], list[str], list[str]]:
        await _retain(port, f"/{secret}/ps-secret/attrs", b'{"s": "secret"}')
        await asyncio.sleep(0.3)
        spy = await _heard(port, "/guess/x/cmd")
        device = await _heard(port, f"/{secret}/other/cmd")
        owner = await _heard(port, f"/{secret}/#")
        return spy, device, owner

    spy, device, owner = asyncio.run(scenario())
    assert spy == [] and device == []
    assert owner == [f"/{secret}/ps-secret/attrs"]  # a matching filter still gets it
