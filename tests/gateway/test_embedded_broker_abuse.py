"""The embedded MQTT broker under connections that are not MQTT clients: each is closed, not
kept open for good (MQTT 3.1.1 §3.1)."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from dalgu.gateway import broker as broker_module
from dalgu.gateway.broker import EmbeddedBroker
from tests.ports import free_port


async def _closed_within(port: int, first: bytes, seconds: float) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if first:
            writer.write(first)
            await writer.drain()
        async with asyncio.timeout(seconds):
            while await reader.read(1024):
                pass
        return True
    except TimeoutError:
        return False
    finally:
        writer.close()


async def test_a_connection_that_sends_no_connect_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(broker_module, "CONNECT_TIMEOUT", 1.0)
    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    await broker.start()
    try:
        assert await _closed_within(port, b"", 5)
    finally:
        await broker.stop()


async def test_a_connection_that_sends_something_else_first_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """amqtt reads random bytes as a CONNECT whose fields are longer than what came."""
    monkeypatch.setattr(broker_module, "CONNECT_TIMEOUT", 1.0)
    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    await broker.start()
    try:
        closed = await asyncio.gather(
            *(_closed_within(port, os.urandom(200), 5) for _ in range(20))
        )
        assert all(closed)
    finally:
        await broker.stop()


async def test_a_client_that_leaves_before_its_connect_is_not_an_error_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    await broker.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="amqtt"):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()  # a port probe
            await asyncio.sleep(0.5)
    finally:
        await broker.stop()
    assert "Failed to initialize client session" in caplog.text  # still a warning
    assert not [r for r in caplog.records if r.name.startswith("amqtt") and r.levelno >= 40]
