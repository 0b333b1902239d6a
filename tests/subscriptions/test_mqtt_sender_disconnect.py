"""An MQTT endpoint's kept connection that the broker drops, from an outside test: stopping
`make demo` logged "Future exception was never retrieved ... Unexpected disconnection" at
error level (the embedded broker stopped before the notifier's idle connection to it)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from dalgu.gateway.broker import EmbeddedBroker
from dalgu.subscriptions.endpoints import MqttSender
from tests.ports import free_port


def test_a_dropped_connection_is_forgotten_and_its_error_taken() -> None:
    # a loop of its own, as the notifier process has
    unhandled = asyncio.run(_dropped())
    assert not [c for c in unhandled if "never retrieved" in str(c.get("message"))], unhandled


async def _dropped() -> list[dict[str, Any]]:
    unhandled: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: unhandled.append(context))
    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port)
    await broker.start()
    sender = MqttSender()
    try:
        uri = f"mqtt://127.0.0.1:{port}/dalgu/alerts"
        await asyncio.wait_for(sender.send(uri, {}, b"{}", None), 10)
        assert len(sender._clients) == 1
        # each in a task of its own, as the notifier runs them: amqtt's shutdown never ended
        # when the client had connected from the task that stops the broker
        await asyncio.wait_for(broker.stop(), 10)
        for _ in range(50):  # the client notices the broker is gone
            if not sender._clients:
                break
            await asyncio.sleep(0.1)
        assert not sender._clients  # forgotten: the next delivery connects again
        gc.collect()
        await asyncio.sleep(0.1)
    finally:
        await sender.close()
        await asyncio.wait_for(broker.stop(), 10)
    return unhandled
