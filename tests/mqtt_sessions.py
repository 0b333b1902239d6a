"""Ending the persistent MQTT sessions a test left on the shared Mosquitto.

Dalgu's southbound subscribes with a persistent session (`clean_session=False`) under its
client id, so that messages sent while it is away are kept for it. A test server that stops
leaves that session on the machine's Mosquitto, which then keeps queueing every matching
message for it, run after run. Connecting once more under the same id with a clean session
makes the broker discard it.
"""

from __future__ import annotations

import asyncio

import aiomqtt


def end_session(port: int, client_id: str, host: str = "127.0.0.1") -> None:
    """Discard the persistent session of `client_id` on the broker at `host`:`port`."""

    async def connect_clean() -> None:
        async with aiomqtt.Client(host, port, identifier=client_id, clean_session=True):
            pass

    asyncio.run(asyncio.wait_for(connect_clean(), 10))
