"""The embedded broker's sessions: who may take which, what a Will may say, and how much one
client can make the broker hold (amqtt 0.12, subclassed).

amqtt, as released, let any client take any session by its client id, Dalgu's gateway's
included (`dalgu-<host>-<port>`, printed in the log): the thief got every tenant's measures
and the gateway stopped hearing its devices. It published any Will (a forged command on a
device's `/cmd` topic, even retained), kept a silent client for ever, kept a clean session's
state for the next connection, and held whatever one client sent or could not read. Here:

- a client id whose session Dalgu's gateway made (`dalgu-<host>-<port>` by default) is
  taken only with the gateway's credentials (made at start; the gateway, connecting after a
  client took its id first, takes the session back [MQTT-3.1.4-2]): anyone else
  gets CONNACK 0x02 (identifier rejected), and the session is left as it was; a user name of
  Dalgu's with another password gets 0x05 (not authorized);
- a Will goes through the checks of a PUBLISH (`brokeraccess.may_publish`, no wildcard, no
  `$`): a Will on a `/cmd` topic is refused with 0x05; invalid Will flags close the
  connection [MQTT-3.1.2-13..15];
- a connection that takes an id in use closes the other one first [MQTT-3.1.4-2]; a clean
  session leaves nothing for the next connection [MQTT-3.1.2-6] and a persistent session
  gets session present 1 only if one was kept [MQTT-3.2.2-2];
- a connection whose first packet is not a CONNECT is closed at once, and one that sends a
  PUBLISH or SUBSCRIBE that breaks MQTT 3.1.1 (`publish_violation`, `subscribe_violation`)
  is closed (4.8) instead of answered;
- a client silent for 1.5 times its keep-alive is disconnected as if the network had failed,
  and its Will published [MQTT-3.1.2-24] (`brokeracks.handler_class`);
- messages queued for an offline session are sent with RETAIN 0 [MQTT-3.3.1-9]; a retained
  message goes at the minimum of its QoS and the subscription's [MQTT-3.8.4-6];
- bounds: `MAX_RETAINED` retained topics of `MAX_RETAINED_BYTES` at most; `MAX_QUEUED`
  messages and `MAX_QUEUED_BYTES` waiting for one client, offline or reading slowly (more are
  dropped, with one warning per episode); `MAX_CONNECTIONS` connections and `ACCEPT_RATE`
  new ones a second (more are closed at once, so a flood does not hold the API's event loop);
  `MAX_SUBSCRIPTIONS` filters per client (more get SUBACK 0x80).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Any

from dalgu.gateway.brokeraccess import BrokerCredentials, may_publish

log = logging.getLogger(__name__)

#: a client silent for this many keep-alive periods is disconnected [MQTT-3.1.2-24]
KEEPALIVE_GRACE = 1.5
#: retained topics the broker keeps, and the largest retained payload (the gateway's own
#: limit on a measure)
MAX_RETAINED = 10_000
MAX_RETAINED_BYTES = 65_536
#: messages, and their bytes, waiting for one client (offline, or reading slowly)
MAX_QUEUED = 1_000
MAX_QUEUED_BYTES = 8 << 20
#: ... for Dalgu's own gateway, which stores every device's measures
OWN_MAX_QUEUED = 50_000
OWN_MAX_QUEUED_BYTES = 64 << 20
#: open connections, new connections a second (a burst of as many), filters per client
MAX_CONNECTIONS = 2_000
ACCEPT_RATE = 10.0
MAX_SUBSCRIPTIONS = 100
#: seconds a connection taking a session waits for the session's other connection to close
TAKE_OVER_WAIT = 5.0


def valid_topic(topic: str | None) -> bool:
    """A topic name a client may publish on: not empty, no wildcard, no U+0000, no `$`."""
    if not topic or topic.startswith("$"):
        return False
    return not any(c in topic for c in "+#\0")


def publish_violation(
    topic: str | None, qos: int | None, packet_id: int | None, dup: bool
) -> str | None:
    """Why a PUBLISH from a client breaks MQTT 3.1.1 (the connection is then closed, 4.8), or
    None."""
    if qos not in (0, 1, 2):
        return "[MQTT-3.3.1-4] a PUBLISH with both QoS bits set"
    if qos and not packet_id:
        return "[MQTT-2.3.1-1] a QoS 1 or 2 PUBLISH with packet identifier 0"
    if not qos and dup:
        return "[MQTT-3.3.1-2] a QoS 0 PUBLISH with DUP set"
    if not topic:
        return "[MQTT-4.7.3-1] a PUBLISH with an empty topic name"
    if any(c in topic for c in "+#\0"):
        return "[MQTT-3.3.2-2] [MQTT-4.7.3-2] a PUBLISH topic name with a wildcard or U+0000"
    return None


def subscribe_violation(flags: int, topics: list[tuple[str, int]]) -> str | None:
    """Why a SUBSCRIBE breaks MQTT 3.1.1 (the connection is then closed), or None."""
    if flags != 0x02:
        return "[MQTT-3.8.1-1] a SUBSCRIBE whose fixed header flags are not 0010"
    if not topics:
        return "[MQTT-3.8.3-3] a SUBSCRIBE with no topic filter"
    if any(qos not in (0, 1, 2) for _, qos in topics):
        return "[MQTT-3.8.3-4] a SUBSCRIBE asking for QoS 3"
    return None


class FirstByte:
    """A reader that gives `first` (read already, to check it) before the rest of `reader`."""

    def __init__(self, first: bytes, reader: Any) -> None:
        self.first, self.reader = first, reader

    async def read(self, n: int = -1) -> bytes:
        if not self.first:
            data: bytes = await self.reader.read(n)
            return data
        head, self.first = self.first[:n], self.first[n:]
        return head

    def feed_eof(self) -> None:
        self.reader.feed_eof()


class AcceptRate:
    """A token bucket: `rate` connections a second, bursts of as many."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def session_rules(base: Any, credentials: BrokerCredentials) -> Any:
    """amqtt's Broker with the rules the module lists; `credentials` are the gateway's."""
    from amqtt.broker import BrokerProtocolHandler
    from amqtt.contexts import Action
    from amqtt.errors import AMQTTError, MQTTError, NoDataError
    from amqtt.mqtt.connack import IDENTIFIER_REJECTED, NOT_AUTHORIZED, ConnackPacket
    from amqtt.mqtt.constants import QOS_1, QOS_2
    from amqtt.utils import gen_client_id

    own = credentials.username

    def is_own(session: Any) -> bool:
        given = (session.password or "").encode()
        return bool(
            session.username == own and hmac.compare_digest(given, credentials.password.encode())
        )

    class Broker(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._dalgu_connections = 0
            self._dalgu_accept = AcceptRate(ACCEPT_RATE)
            self._dalgu_refusing = False

        # --- connections ------------------------------------------------------------------

        async def _client_connected(self, listener_name: str, reader: Any, writer: Any) -> None:
            if self._dalgu_connections >= MAX_CONNECTIONS or not self._dalgu_accept.take():
                if not self._dalgu_refusing:
                    log.warning(
                        "embedded MQTT broker: %d connections open, or more than %g new ones a "
                        "second; new connections are closed until it calms down",
                        self._dalgu_connections,
                        ACCEPT_RATE,
                    )
                    self._dalgu_refusing = True
                await writer.close()
                return
            self._dalgu_refusing = False
            self._dalgu_connections += 1
            try:
                await super()._client_connected(listener_name, reader, writer)
            finally:
                self._dalgu_connections -= 1

        async def _initialize_client_session(
            self, reader: Any, writer: Any, remote_address: str, remote_port: int
        ) -> Any:
            try:
                try:
                    first = await reader.read(1)
                except asyncio.IncompleteReadError:
                    first = b""
                if not first:
                    raise NoDataError("closed before its CONNECT")
                if first[0] >> 4 != 1:  # closed at once, not after CONNECT_TIMEOUT
                    raise MQTTError(f"[MQTT-3.1.0-1] a first packet, {first!r}, not a CONNECT")
                handler, incoming = await BrokerProtocolHandler.init_from_connect(
                    FirstByte(first, reader), writer, self.plugins_manager
                )
            except (AMQTTError, MQTTError, NoDataError) as exc:
                raise AMQTTError(
                    f"{remote_address}:{remote_port}: no valid CONNECT ({exc})"
                ) from exc
            refusal = self._dalgu_refusal(incoming)
            if refusal is not None:
                code, why = refusal
                log.warning(
                    "MQTT client %r from %s:%d refused: %s",
                    incoming.client_id,
                    remote_address,
                    remote_port,
                    why,
                )
                await ConnackPacket.build(0, code).to_stream(writer)
                raise MQTTError(why)
            client_id = incoming.client_id
            existing = self._sessions.get(client_id) if client_id else None
            if existing is not None and existing[0].transitions.is_connected():
                await self._dalgu_take_over(*existing)
            if incoming.clean_session or existing is None or existing[0].clean_session:
                if client_id:
                    await self._delete_session(client_id)
                else:
                    incoming.client_id = gen_client_id()
                session = incoming
                session.parent = 0
            else:
                session = existing[0]
                for name in (
                    "will_flag",
                    "will_message",
                    "will_topic",
                    "will_qos",
                    "will_retain",
                    "username",
                    "password",
                    "remote_address",
                    "remote_port",
                ):
                    setattr(session, name, getattr(incoming, name))
                session.parent = 1
            session.keep_alive = incoming.keep_alive * KEEPALIVE_GRACE
            return handler, session

        def _dalgu_refusal(self, incoming: Any) -> tuple[int, str] | None:
            """The CONNACK code refusing `incoming` and why, or None; `MQTTError` (the
            connection closed) for a malformed CONNECT."""
            if incoming.will_flag:
                if incoming.will_qos not in (0, 1, 2):
                    raise MQTTError("[MQTT-3.1.2-14] a Will QoS of 3")
            elif incoming.will_qos or incoming.will_retain:
                raise MQTTError("[MQTT-3.1.2-13] [MQTT-3.1.2-15] Will QoS or Retain without a Will")
            if is_own(incoming):
                return None
            if incoming.username == own:
                return NOT_AUTHORIZED, "Dalgu's user name with another password"
            client_id = incoming.client_id or ""
            existing = self._sessions.get(client_id)
            # the gateway's session (made with its credentials), not every `dalgu-` id: the
            # testbed's simulated devices and `dalgu demo safety` connect as `dalgu-…` too
            if existing is not None and existing[0].username == own:
                return IDENTIFIER_REJECTED, "the client id is reserved to Dalgu's gateway"
            if incoming.will_flag and not (
                valid_topic(incoming.will_topic) and may_publish(incoming.will_topic)
            ):
                return (
                    NOT_AUTHORIZED,
                    f"a Will on {incoming.will_topic!r}, where it may not publish",
                )
            return None

        async def _dalgu_take_over(self, session: Any, handler: Any) -> None:
            """Close the connection that holds `session` [MQTT-3.1.4-2]."""
            log.info(
                "MQTT client %r connects again: its other connection is closed", session.client_id
            )
            await handler.handle_connection_closed()
            await handler.stop()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + TAKE_OVER_WAIT
            # amqtt's session state machine has no event to await
            while session.transitions.is_connected() and loop.time() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)

        # --- subscriptions and retained messages -------------------------------------------

        async def add_subscription(self, subscription: tuple[str, int], session: Any) -> int:
            held: set[str] = getattr(session, "dalgu_filters", set())
            session.dalgu_filters = held
            if (
                session.username != own
                and subscription[0] not in held
                and len(held) >= MAX_SUBSCRIPTIONS
            ):
                log.warning(
                    "MQTT client %r holds %d subscriptions: %r refused",
                    session.client_id,
                    len(held),
                    subscription[0],
                )
                return 0x80
            granted: int = await super().add_subscription(subscription, session)
            if granted != 0x80:
                held.add(subscription[0])
            return granted

        def _del_subscription(self, a_filter: str, session: Any) -> int:
            getattr(session, "dalgu_filters", set()).discard(a_filter)
            deleted: int = super()._del_subscription(a_filter, session)
            return deleted

        async def retain_message(
            self, source_session: Any, topic_name: str | None, data: Any, qos: int | None = None
        ) -> None:
            if data and topic_name is not None:
                if len(data) > MAX_RETAINED_BYTES:
                    log.warning(
                        "a retained message of %d bytes on %r is not kept (%d at most)",
                        len(data),
                        topic_name,
                        MAX_RETAINED_BYTES,
                    )
                    return
                if (
                    topic_name not in self._retained_messages
                    and len(self._retained_messages) >= MAX_RETAINED
                ):
                    log.warning(
                        "a retained message on %r is not kept: %d topics hold one already",
                        topic_name,
                        MAX_RETAINED,
                    )
                    return
            await super().retain_message(source_session, topic_name, data, qos)

        async def _publish_retained_messages_for_subscription(
            self, subscription: tuple[str, int], session: Any
        ) -> None:
            """Retained messages for `subscription` only if it is the session's own: amqtt,
            on each connection, offered the retained messages matching every client's filters
            (Dalgu's own take every key's topics), so any client got any device's retained
            measure, API key and all (MQTT 3.1.1 3.3.1.3: a matching subscription only); and
            at the minimum of the two QoS [MQTT-3.8.4-6]."""
            topic_filter = subscription[0]
            granted = [q for s, q in self._subscriptions.get(topic_filter, []) if s is session]
            handler = self._get_handler(session)
            if not granted or handler is None:
                return
            tasks = [
                asyncio.ensure_future(
                    handler.mqtt_publish(
                        retained.topic,
                        retained.data,
                        min(granted[0], granted[0] if retained.qos is None else retained.qos),
                        retain=True,
                    )
                )
                for topic, retained in list(self._retained_messages.items())
                if self._matches(topic, topic_filter)
            ]
            if tasks:
                await asyncio.wait(tasks)

        # --- delivery ----------------------------------------------------------------------

        async def _publish_session_retained_messages(self, session: Any) -> None:
            """What was queued while the session was offline, with RETAIN 0 [MQTT-3.3.1-9]."""
            handler = self._get_handler(session)
            tasks = []
            while handler is not None and not session.retained_messages.empty():
                queued = session.retained_messages.get_nowait()
                tasks.append(
                    asyncio.ensure_future(
                        self._dalgu_send(handler, queued.topic, queued.data, queued.qos)
                    )
                )
            if tasks:
                await asyncio.wait(tasks)

        async def _run_broadcast(self, running_tasks: Any) -> None:
            """amqtt's, over a copy of the subscriptions (a client subscribing meanwhile broke
            the loop: "dictionary changed size during iteration"), with the queue bounds."""
            broadcast = await self._broadcast_queue.get()
            topic, data = broadcast["topic"], broadcast["data"]
            for a_filter, subscriptions in list(self._subscriptions.items()):
                if not self._matches(topic, a_filter):
                    continue
                for target, sub_qos in list(subscriptions):
                    qos = broadcast.get("qos", sub_qos)
                    if not await self._topic_filtering(target, topic=topic, action=Action.RECEIVE):
                        continue
                    if target.transitions.state != "connected":
                        if (
                            not target.clean_session
                            and qos in (QOS_1, QOS_2)
                            and not target.is_anonymous
                        ):
                            if target.retained_messages.qsize() >= self._dalgu_bounds(target)[0]:
                                self._dalgu_dropping(target, "offline")
                                continue
                            await self._retain_broadcast_message(broadcast, qos, target)
                        continue
                    handler = self._get_handler(target)
                    if handler is None:
                        continue
                    most, most_bytes = self._dalgu_bounds(target)
                    queued = getattr(handler, "_dalgu_queued", 0)
                    queued_bytes = getattr(handler, "_dalgu_queued_bytes", 0)
                    if queued >= most or queued_bytes + len(data or b"") > most_bytes:
                        self._dalgu_dropping(target, "reading slowly")
                        continue
                    target.dalgu_dropping = False
                    running_tasks.append(
                        asyncio.ensure_future(self._dalgu_send(handler, topic, data, qos))
                    )

        def _dalgu_bounds(self, session: Any) -> tuple[int, int]:
            if session.username == own:
                return OWN_MAX_QUEUED, OWN_MAX_QUEUED_BYTES
            return MAX_QUEUED, MAX_QUEUED_BYTES

        def _dalgu_dropping(self, session: Any, why: str) -> None:
            if not getattr(session, "dalgu_dropping", False):
                session.dalgu_dropping = True
                most, most_bytes = self._dalgu_bounds(session)
                log.warning(
                    "MQTT client %r (%s) has %d messages or %d bytes waiting: messages for it "
                    "are dropped until it catches up",
                    session.client_id,
                    why,
                    most,
                    most_bytes,
                )

        async def _dalgu_send(self, handler: Any, topic: str, data: Any, qos: int | None) -> Any:
            size = len(data or b"")
            handler._dalgu_queued = getattr(handler, "_dalgu_queued", 0) + 1
            handler._dalgu_queued_bytes = getattr(handler, "_dalgu_queued_bytes", 0) + size
            try:
                return await handler.mqtt_publish(topic, data, qos, retain=False)
            finally:
                handler._dalgu_queued -= 1
                handler._dalgu_queued_bytes -= size

    return Broker
