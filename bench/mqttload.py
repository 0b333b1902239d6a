"""A lean MQTT 3.1.1 load generator for the benchmarks: a publisher and a counting subscriber.

A Python MQTT client library costs ~90 µs of CPU per QoS 1 publish (aiomqtt over paho), so
one harness core could not offer more than ~10,000 messages/s: the harness, not the broker
or Dalgu, would be measured. These write pre-encoded packets in bulk on a plain asyncio
stream (a few µs per message). Only what the benchmarks need: CONNECT, PUBLISH at QoS 1
with its PUBACK, SUBSCRIBE; no reconnection, no QoS 2.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable

from dalgu.gateway import mqttwire as wire

CHUNK = 512  # packets written per write()
WINDOW = 20_000  # QoS 1 publishes waiting for their PUBACK at most


def connect_packet(client_id: str) -> bytes:
    return wire.connect_packet(client_id, keepalive=60, clean_session=True)


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    return wire.publish_packet(topic, payload, qos=1, packet_id=packet_id)


async def _packets(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The next packet: (type and flags byte, body)."""
    head = (await reader.readexactly(1))[0]
    size, shift = 0, 0
    while True:
        digit = (await reader.readexactly(1))[0]
        size += (digit & 0x7F) << shift
        shift += 7
        if not digit & 0x80:
            break
    return head, await reader.readexactly(size) if size else b""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, client_id: str) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(connect_packet(client_id))
        head, body = await _packets(reader)
        if head >> 4 != 2 or body[1] != 0:
            raise ConnectionError(f"the broker refused the connection ({body!r})")
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.write(b"\xe0\x00")  # DISCONNECT
        self.writer.close()
        await self.writer.wait_closed()


class Publisher:
    """QoS 1 publishes on one connection, in order; PUBACKs are counted as they come."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sent = 0
        self.acked = 0
        self._progress = asyncio.Event()
        self._counter = asyncio.create_task(self._count_acks())

    @classmethod
    async def open(cls, port: int, client_id: str) -> Publisher:
        return cls(await Connection.open(port, client_id))

    async def _count_acks(self) -> None:
        while True:
            head, _ = await _packets(self.conn.reader)
            if head >> 4 == 4:  # PUBACK
                self.acked += 1
                self._progress.set()

    async def send(self, messages: Iterable[tuple[str, bytes]]) -> None:
        """Write the messages (waiting while WINDOW of them are unacknowledged)."""
        batch: list[bytes] = []
        for topic, payload in messages:
            self.sent += 1
            batch.append(publish_packet(topic, payload, (self.sent - 1) % 65535 + 1))
            if len(batch) >= CHUNK:
                await self._write(batch)
        await self._write(batch)

    async def _write(self, batch: list[bytes]) -> None:
        self.conn.writer.write(b"".join(batch))
        batch.clear()
        await self.conn.writer.drain()
        while self.sent - self.acked >= WINDOW:
            await self._wait()

    async def _wait(self) -> None:
        self._progress.clear()
        await asyncio.wait_for(self._progress.wait(), 600)

    async def settle(self) -> None:
        """Return once every message sent so far is acknowledged."""
        while self.acked < self.sent:
            await self._wait()

    async def close(self) -> None:
        self._counter.cancel()
        await self.conn.close()


async def publish_all(port: int, client_id: str, messages: Iterable[tuple[str, bytes]]) -> int:
    """Publish in order at QoS 1 on one connection; return once every PUBACK came back."""
    publisher = await Publisher.open(port, client_id)
    try:
        await publisher.send(messages)
        await publisher.settle()
    finally:
        await publisher.close()
    return publisher.sent


async def subscribe_count(port: int, client_id: str, topic: str, expected: int) -> asyncio.Event:
    """Subscribe at QoS 1 and acknowledge every message; the event is set once `expected`
    messages came. Returns once subscribed; the counting goes on in a task."""
    conn = await Connection.open(port, client_id)
    conn.writer.write(wire.subscribe_packet(1, [(topic, 1)]))
    head, _ = await _packets(conn.reader)
    if head >> 4 != 9:
        raise ConnectionError("no SUBACK")
    done = asyncio.Event()

    async def count() -> None:
        received = 0
        acks: list[bytes] = []
        try:
            while received < expected:
                head, body = await _packets(conn.reader)
                if head >> 4 != 3:
                    continue
                received += 1
                if head & 0x06:  # QoS 1: PUBACK with the packet id after the topic
                    (length,) = struct.unpack_from("!H", body)
                    acks.append(b"\x40\x02" + body[2 + length : 4 + length])
                if len(acks) >= 64 or not conn.reader._buffer:  # type: ignore[attr-defined]
                    conn.writer.write(b"".join(acks))
                    acks.clear()
            conn.writer.write(b"".join(acks))
            done.set()
        finally:
            await conn.close()

    task = asyncio.create_task(count())
    done.task = task  # type: ignore[attr-defined]  # kept alive with the event
    return done
