"""The embedded broker acknowledges a device's QoS 1 measure once Dalgu has stored it.

amqtt answers a QoS 1 PUBLISH with its PUBACK as soon as the message is queued in memory: a
measure acknowledged to its device but not yet written by the gateway was lost with the process
(`kill -9`, the OOM killer), the whole backlog when ingestion had fallen behind (an outside test
lost 12,899 measures in one kill, 86 in a calm one: the last second of traffic). Mosquitto, the
production broker, outlives Dalgu and keeps the gateway's persistent session; the embedded
broker dies with it, so its acknowledgement has to wait for the store.

How: a device's QoS 1 publish on a topic Dalgu's own client is subscribed to (connected) waits,
before its PUBACK, until the broker's delivery of that message to Dalgu's client is
acknowledged, and Dalgu's client acknowledges a batch only after its write committed
(`mqttclient.acknowledge`). The two are matched by the message's payload object, which amqtt
hands from the incoming message to the outgoing one unchanged. A device's later publishes are
not held meanwhile (amqtt handles each in a task of its own); a device whose client keeps a
window of messages in flight (paho: 20) is slowed to the store's pace, which is the
backpressure a QoS 1 device expects. A delivery that is not acknowledged within
`STORE_WAIT` seconds (the gateway far behind, or refusing the topic) is acknowledged to its
device all the same, with a warning: the device is never held for ever.

This reaches into amqtt 0.12's protocol handler (`_handle_qos1_message_flow`, `handle_puback`):
`tests/gateway/test_broker_acks.py` fails if an amqtt upgrade changes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from dalgu.gateway.brokersessions import publish_violation, subscribe_violation

log = logging.getLogger(__name__)

#: seconds a device's QoS 1 publish waits for the gateway to store it before its PUBACK
STORE_WAIT = 30.0


class StoredAcknowledgements:
    """The device publishes waiting for Dalgu's client to acknowledge their delivery."""

    def __init__(self, consumes: Callable[[str], bool]) -> None:
        self._consumes = consumes  # whether Dalgu's own client, connected, takes a topic
        self._waiting: dict[int, tuple[asyncio.Future[None], float]] = {}

    def expect(self, topic: str, data: object) -> asyncio.Future[None] | None:
        """A future done when the delivery of `data` to Dalgu's client is acknowledged; None
        when Dalgu's client does not take `topic` (nothing to wait for)."""
        if not self._consumes(topic):
            return None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting[id(data)] = (future, loop.time())
        return future

    def forget(self, data: object) -> None:
        self._waiting.pop(id(data), None)

    def stored(self, data: object) -> None:
        """Dalgu's client acknowledged the delivery of `data`: it is stored."""
        waiting = self._waiting.pop(id(data), None)
        if waiting is not None and not waiting[0].done():
            waiting[0].set_result(None)

    def backlog(self) -> tuple[int, float]:
        """Device messages received and not yet stored, and the seconds the oldest has waited
        (0 when none): what `/health` reports as `mqtt:backlog`."""
        if not self._waiting:
            return 0, 0.0
        oldest = min(since for _, since in self._waiting.values())
        return len(self._waiting), asyncio.get_running_loop().time() - oldest


def handler_class(base: Any, acks: StoredAcknowledgements, own_username: str) -> Any:
    """amqtt's BrokerProtocolHandler, holding a device's QoS 1 PUBACK until Dalgu stored the
    message, and telling `acks` when Dalgu's own client acknowledged a delivery."""
    from amqtt.mqtt.constants import QOS_1
    from amqtt.mqtt.protocol.handler import INCOMING, OUTGOING
    from amqtt.mqtt.puback import PubackPacket

    class Handler(base):  # type: ignore[misc]
        def _own(self) -> bool:
            return self.session is not None and self.session.username == own_username

        async def handle_publish(self, publish_packet: Any) -> None:
            header = publish_packet.variable_header
            violation = publish_violation(
                publish_packet.topic_name,
                publish_packet.qos,
                header.packet_id if header is not None else None,
                publish_packet.dup_flag,
            )
            if violation is not None:
                self._dalgu_violation(violation)
                return
            await super().handle_publish(publish_packet)

        async def handle_subscribe(self, subscribe: Any) -> None:
            topics = subscribe.payload.topics if subscribe.payload is not None else []
            violation = subscribe_violation(subscribe.fixed_header.flags, topics)
            if violation is not None:
                self._dalgu_violation(violation)
                return
            await super().handle_subscribe(subscribe)

        def _dalgu_violation(self, why: str) -> None:
            """Close the connection of a client that broke the protocol (MQTT 3.1.1 4.8)."""
            if self.session is None or getattr(self, "_dalgu_closing", None) is not None:
                return
            log.warning("MQTT client %r: %s; connection closed", self.session.client_id, why)
            self._dalgu_closing = asyncio.ensure_future(self.handle_connection_closed())

        def handle_read_timeout(self) -> None:
            """Nothing from the client for 1.5 times its keep-alive (`brokersessions` sets the
            session's wait): disconnect it as if the network had failed, Will and all
            [MQTT-3.1.2-24]; amqtt did nothing."""
            if self.session is None or getattr(self, "_dalgu_closing", None) is not None:
                return
            log.info(
                "MQTT client %r silent for 1.5 times its keep-alive: disconnected",
                self.session.client_id,
            )
            self._dalgu_closing = asyncio.ensure_future(self.handle_connection_closed())

        async def _handle_qos1_message_flow(self, app_message: Any) -> None:
            if app_message.direction == OUTGOING and not self._own():
                session = self.session
                try:
                    await super()._handle_qos1_message_flow(app_message)
                except BaseException:
                    # amqtt forgot a delivery not acknowledged (the connection lost, or the
                    # PUBACK late): a persistent session sends it again, DUP and same packet
                    # identifier, when its client reconnects [MQTT-4.4.0-1]
                    if (
                        session is not None
                        and not session.clean_session
                        and app_message.puback_packet is None
                    ):
                        session.inflight_out[app_message.packet_id] = app_message
                    raise
                return
            if app_message.direction == OUTGOING and self._own():
                try:
                    await super()._handle_qos1_message_flow(app_message)
                except TimeoutError:  # acknowledged later, when the gateway has written it
                    self._late()[app_message.packet_id] = app_message.data
                    raise
                acks.stored(app_message.data)
                return
            if (
                app_message.direction != INCOMING
                or app_message.qos != QOS_1
                or app_message.puback_packet
                or app_message.packet_id is None
                or self.session is None
                or self._own()
            ):
                await super()._handle_qos1_message_flow(app_message)
                return
            stored = acks.expect(app_message.topic, app_message.data)
            await self.session.delivered_message_queue.put(app_message)
            if stored is not None:
                try:
                    await asyncio.wait_for(stored, STORE_WAIT)
                except TimeoutError:
                    log.warning(
                        "a QoS 1 message on %r was not stored within %g s; acknowledged to its "
                        "sender all the same",
                        app_message.topic,
                        STORE_WAIT,
                    )
                finally:
                    acks.forget(app_message.data)
            puback = PubackPacket.build(app_message.packet_id)
            await self._send_packet(puback)
            app_message.puback_packet = puback

        def _late(self) -> dict[int, object]:
            late: dict[int, object] | None = getattr(self, "_dalgu_late", None)
            if late is None:
                late = {}
                self._dalgu_late = late
            return late

        async def handle_puback(self, puback: Any) -> None:
            header = puback.variable_header
            late = self._late() if self._own() else {}
            if (
                header is not None
                and not self._own()
                and self.session is not None
                and header.packet_id not in self._puback_waiters
            ):
                # a delivery acknowledged late, or after a reconnect: done with
                self.session.inflight_out.pop(header.packet_id, None)
                return
            if header is not None and header.packet_id in late:
                acks.stored(late.pop(header.packet_id))
                if header.packet_id not in self._puback_waiters:
                    return  # (Dalgu acknowledges in order: a newer one with the id comes after)
            await super().handle_puback(puback)

    return Handler
