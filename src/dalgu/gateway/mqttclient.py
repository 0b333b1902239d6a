"""A lean MQTT 3.1.1 client for the southbound: bulk reads, one write for a batch's PUBACKs.

The southbound stores what devices publish in batches and may acknowledge a QoS 1 message
only once it is stored. A general client (aiomqtt over paho) reads each packet's header a
byte at a time, queues and dispatches each message, and writes one PUBACK per message: ~45 µs
of a measure's server CPU. This one is an asyncio protocol: what the socket holds is split
into packets at once, the messages wait in one list, `take` hands out a batch, and
`acknowledge` writes the batch's PUBACKs in one write, in the order the messages came (as MQTT
3.1.1 asks). Nothing is acknowledged unless asked: a message taken but not acknowledged when
the connection ends comes again from a persistent session (`clean_session=False`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import cast

from dalgu.background import cancel_and_wait
from dalgu.gateway.brokeraccess import BrokerCredentials
from dalgu.gateway.mqttwire import (
    CONNACK,
    DISCONNECT_PACKET,
    PINGREQ_PACKET,
    PINGRESP,
    PUBACK,
    PUBLISH,
    SUBACK,
    MqttError,
    MqttProtocolError,
    PacketReader,
    Publish,
    connect_packet,
    decode_publish,
    puback_packet,
    publish_packet,
    subscribe_packet,
)

REPLY_SECONDS = 10.0  # how long CONNACK, SUBACK and a QoS 1 PUBACK may take
CLOSE_SECONDS = 2.0  # how long the broker may take to close the socket after DISCONNECT
LINGER_TURNS = 1_000  # turns of the loop `take` waits at most while more messages come
IDLE_TURNS = 4  # ... and turns without a new message before it stops waiting
PAUSE_AT = 20_000  # messages waiting to be taken: stop reading the socket until they drain
_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class _Wire(asyncio.Protocol):
    """The socket side: packets in, bytes out; everything else is the connection's."""

    def __init__(self, connection: MqttConnection) -> None:
        self.connection = connection
        self.reader = PacketReader()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; they have its methods
        self.connection._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            packets = self.reader.feed(data)
        except MqttProtocolError as exc:
            self.connection._fail(exc)
            return
        self.connection._received(packets)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connection._gone.set()
        self.connection._fail(MqttError(f"the broker closed the connection ({exc or 'EOF'})"))


class MqttConnection:
    """One session with a broker. Open with `MqttConnection.open`; close with `close`."""

    def __init__(self, keepalive: int) -> None:
        self.keepalive = keepalive
        self._transport: asyncio.Transport | None = None
        self._messages: list[Publish] = []
        self._arrived = asyncio.Event()
        self._gone = asyncio.Event()  # the socket is closed
        self._error: MqttError | None = None
        self._paused = False
        self._replies: dict[tuple[int, int], asyncio.Future[bytes]] = {}
        self._next_id = 0
        self._heard = True  # something came from the broker since the last ping
        self._pinger: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        client_id: str,
        *,
        clean_session: bool = False,
        keepalive: int = 30,
        credentials: BrokerCredentials | None = None,
    ) -> MqttConnection:
        """Connect and wait for the broker's CONNACK; `MqttError` if refused or unreachable."""
        connection = cls(keepalive)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: _Wire(connection), host, port), REPLY_SECONDS
            )
            reply = connection._expect(CONNACK, 0)
            connection._write(
                connect_packet(
                    client_id,
                    keepalive=keepalive,
                    clean_session=clean_session,
                    username=credentials.username if credentials else None,
                    password=credentials.password if credentials else None,
                )
            )
            body = await asyncio.wait_for(reply, REPLY_SECONDS)
        except (OSError, TimeoutError) as exc:
            error = MqttError(f"cannot connect to {host}:{port}: {exc!r}")
            connection._fail(error)
            raise error from None
        except MqttError:
            connection._abort()
            raise
        if len(body) != 2 or body[1] != 0:
            connection._abort()
            code = body[1] if len(body) == 2 else -1
            raise MqttError(f"the broker refused the connection: {_REFUSALS.get(code, code)}")
        connection._pinger = asyncio.create_task(connection._ping(), name="mqtt-keepalive")
        return connection

    async def subscribe(self, topics: Sequence[tuple[str, int]]) -> None:
        """Subscribe to (filter, QoS) pairs; `MqttError` if the broker refuses one."""
        packet_id = self._packet_id()
        reply = self._expect(SUBACK, packet_id)
        self._write(subscribe_packet(packet_id, list(topics)))
        body = await asyncio.wait_for(reply, REPLY_SECONDS)
        refused = [t for (t, _), code in zip(topics, body[2:], strict=False) if code == 0x80]
        if refused or len(body) != 2 + len(topics):
            raise MqttError(f"the broker refused the subscriptions {refused or list(topics)}")

    async def take(self, most: int) -> list[Publish]:
        """The next messages, at least one and at most `most`, in the order they came."""
        while True:
            if self._error is not None:  # what came but was not taken comes again
                raise self._error
            if self._messages:
                break
            self._arrived.clear()
            await self._arrived.wait()
        # a broker in this process and event loop (the embedded one) hands over a message
        # every 2-3 turns of the loop: let it run while that brings more, or (the store's
        # write holding the loop meanwhile) every batch would be one message
        idle = 0
        for _ in range(LINGER_TURNS):
            waiting = len(self._messages)
            if waiting >= most or self._error is not None:
                break
            await asyncio.sleep(0)
            idle = 0 if len(self._messages) > waiting else idle + 1
            if idle > IDLE_TURNS:
                break
        batch = self._messages[:most]
        del self._messages[:most]
        if self._paused and len(self._messages) < PAUSE_AT // 2 and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return batch

    def acknowledge(self, messages: Sequence[Publish]) -> None:
        """PUBACK the QoS 1 messages, in one write, in their order."""
        acks = [puback_packet(m.packet_id) for m in messages if m.qos == 1]
        if acks and self._error is None:
            self._write(b"".join(acks))

    async def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        """Publish; at QoS 1, return once the broker acknowledged it."""
        if qos == 0:
            self._write(publish_packet(topic, payload, qos=0))
            return
        packet_id = self._packet_id()
        reply = self._expect(PUBACK, packet_id)
        self._write(publish_packet(topic, payload, qos=1, packet_id=packet_id))
        await asyncio.wait_for(reply, REPLY_SECONDS)

    async def lost(self) -> None:
        """Wait until the connection is lost, then raise why (`MqttError`)."""
        while self._error is None:
            await self._arrived.wait()  # set on every failure
            self._arrived.clear()
        raise self._error

    async def close(self) -> None:
        """Disconnect cleanly (the broker keeps a persistent session's unacknowledged messages).

        Waits (briefly) for the broker to close the socket after DISCONNECT: by then it has
        read the PUBACKs written before, so a new session under the same client id cannot be
        sent again what this one acknowledged.
        """
        if self._error is None:
            self._write(DISCONNECT_PACKET)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gone.wait(), CLOSE_SECONDS)
        self._fail(MqttError("the connection was closed"))
        await cancel_and_wait(self._pinger)

    # --- inside ---------------------------------------------------------------------------

    def _received(self, packets: list[tuple[int, int, bytes]]) -> None:
        self._heard = True
        messages = self._messages
        for kind, flags, body in packets:
            if kind == PUBLISH:
                try:
                    messages.append(decode_publish(flags, body))
                except MqttProtocolError as exc:
                    self._fail(exc)
                    return
            elif kind == PINGRESP:
                continue
            else:
                packet_id = int.from_bytes(body[:2], "big") if kind in (PUBACK, SUBACK) else 0
                reply = self._replies.pop((kind, packet_id), None)
                if reply is not None and not reply.done():
                    reply.set_result(body)
        if messages:
            self._arrived.set()
            if len(messages) >= PAUSE_AT and not self._paused and self._transport is not None:
                self._paused = True
                self._transport.pause_reading()

    def _expect(self, kind: int, packet_id: int) -> asyncio.Future[bytes]:
        if self._error is not None:
            raise self._error
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._replies[(kind, packet_id)] = reply
        return reply

    def _packet_id(self) -> int:
        self._next_id = self._next_id % 0xFFFF + 1
        return self._next_id

    def _write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        assert self._transport is not None
        self._transport.write(data)

    async def _ping(self) -> None:
        # a broker drops a client silent for 1.5 keepalives; a broker silent for a whole
        # keepalive after a ping is taken for gone
        while self._error is None:
            await asyncio.sleep(self.keepalive / 2)
            # while reading is paused (a backlog waits to be stored) the PINGRESP is unread
            if not self._heard and not self._paused:
                self._fail(MqttError("the broker stopped answering"))
                return
            self._heard = False
            with contextlib.suppress(MqttError):
                self._write(PINGREQ_PACKET)

    def _fail(self, error: MqttError) -> None:
        if self._error is None:
            self._error = error
        for reply in self._replies.values():
            if not reply.done():
                reply.set_exception(self._error)
        self._replies.clear()
        self._arrived.set()
        self._abort()

    def _abort(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()
