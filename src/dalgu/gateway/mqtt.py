"""MQTT southbound: devices publish measures on the FIWARE IoT Agents' topics.

    /<apikey>/<device_id>/attrs            a measure payload (UltraLight 2.0 or JSON)
    /<apikey>/<device_id>/attrs/<attr>     one measure's bare value
    /ul/<apikey>/<device_id>/attrs[/attr]  UltraLight 2.0, said explicitly
    /json/<apikey>/<device_id>/attrs[/attr] JSON, said explicitly
    <apikey>/<device_id>/attrs[/attr]      the same without the leading slash

On the topics without a format prefix the payload says what it is: a JSON object or array is
JSON, anything else UltraLight. A QoS 1 message is acknowledged (PUBACK) only once its
measures are stored, so a broker redelivers what a crash interrupted. Bad input is logged and
published on `<the message's prefix>/<apikey>/<device_id>/errors` as a ProblemDetails JSON
object; it never stops the listener. JSON nested deeper than the HTTP API accepts
(`max_json_depth`) is bad input too.

Of a server's workers one consumes the session at a time (`dalgu/gateway/mqttlease.py`), so a
device's messages are stored in the order it sent them; the others stand by, connected only to
publish commands, and one of them takes over within a second when the consumer exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from dalgu import jsonbytes
from dalgu.background import cancel_and_wait
from dalgu.devices.commands import DeviceCommand
from dalgu.devices.service import DeviceService, Message
from dalgu.devices.traffic import shown
from dalgu.errors import DalguError, PayloadError, Unauthorized, UnknownApiKey
from dalgu.gateway.auth import DeviceAuthenticator
from dalgu.gateway.broker import own_credentials
from dalgu.gateway.command_payloads import command_payload, command_results
from dalgu.gateway.jsonpayload import parse_json_measures
from dalgu.gateway.mqttclient import MqttConnection
from dalgu.gateway.mqttlease import STANDBY_POLL, SessionLease
from dalgu.gateway.mqttwire import MqttError, Publish
from dalgu.gateway.ultralight import MAX_PAYLOAD, parse_measures, value_of
from dalgu.nesting import nesting_depth

log = logging.getLogger(__name__)

TOPICS = (
    "/+/+/attrs",
    "/+/+/attrs/+",
    "/ul/+/+/attrs",
    "/ul/+/+/attrs/+",
    "/json/+/+/attrs",
    "/json/+/+/attrs/+",
    "+/+/attrs",
    "+/+/attrs/+",
    "/+/+/cmdexe",
    "/ul/+/+/cmdexe",
    "/json/+/+/cmdexe",
    "+/+/cmdexe",
)
Format = Literal["ul", "json", "sniff"]


@dataclass(frozen=True, slots=True)
class MeasureTopic:
    """What a southbound topic names."""

    prefix: str  # the part before the apikey ("", "/", "/ul/", "/json/")
    format: Format
    apikey: str
    device_id: str
    attribute: str | None


@functools.lru_cache(maxsize=65_536)  # a device publishes on the same topic every time
def parse_topic(topic: str, kind: str = "attrs") -> MeasureTopic | None:
    """The device a measure (`attrs`) or command-result (`cmdexe`) topic names, else None."""
    parts = topic.split("/")
    prefix = ""
    fmt: Format = "sniff"
    if parts[0] == "":
        parts = parts[1:]
        prefix = "/"
        if parts and parts[0] in ("ul", "json") and len(parts) >= 4 and parts[3] == kind:
            fmt = "ul" if parts[0] == "ul" else "json"
            prefix = f"/{parts[0]}/"
            parts = parts[1:]
    if len(parts) not in (3, 4) or parts[2] != kind or not parts[0] or not parts[1]:
        return None
    attribute = parts[3] if len(parts) == 4 else None
    if attribute == "" or (kind == "cmdexe" and attribute is not None):
        return None
    return MeasureTopic(prefix, fmt, parts[0], parts[1], attribute)


def _text(payload: bytes) -> str:
    try:
        return payload.decode()
    except UnicodeDecodeError:
        raise PayloadError("the payload is not UTF-8 text", 0) from None


MAX_DEPTH = 64  # the HTTP API's default `max_json_depth`


def check_depth(payload: bytes, limit: int) -> None:
    """`PayloadError` when the JSON `payload` nests deeper than `limit` levels (as the HTTP
    API refuses a body): a payload with fewer brackets than the limit is cleared at once."""
    if payload.count(b"{") + payload.count(b"[") < limit:
        return
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return  # not JSON at all: the parser says so, with the position
    if nesting_depth(value, limit) > limit:
        raise PayloadError(f"the payload nests deeper than {limit} levels", 0)


def measure_groups(
    topic: MeasureTopic, payload: bytes, max_depth: int = MAX_DEPTH
) -> list[tuple[dict[str, Any], str | None]]:
    """The measure groups of one message, by its topic's format (or its payload's look)."""
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"payload longer than {MAX_PAYLOAD} bytes", MAX_PAYLOAD)
    fmt = topic.format
    if fmt == "sniff":
        fmt = "json" if payload.lstrip()[:1] in (b"{", b"[") else "ul"
    if fmt == "json":
        check_depth(payload, max_depth)
    if topic.attribute is not None:
        if fmt == "json":
            try:
                value = jsonbytes.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise PayloadError(f"not JSON: {exc.msg}", exc.pos) from None
        else:  # JSON where it parses, as iotagent-ul reads a single measure
            value = value_of(_text(payload))
        return [({topic.attribute: value}, None)]
    if fmt == "json":
        return parse_json_measures(payload)
    return [(g.values, g.timestamp) for g in parse_measures(_text(payload))]


BATCH = 500  # measures stored in one write at most


def _parser(topic: MeasureTopic, payload: bytes, max_depth: int) -> Message:
    """The message, read with the group of its payload's resource (`/iot/d` for UltraLight,
    `/iot/json` for JSON) when its key has several, as each IoT Agent takes its own."""
    fmt = topic.format
    if fmt == "sniff":
        fmt = "json" if payload.lstrip()[:1] in (b"{", b"[") else "ul"
    prefer = "/iot/json" if fmt == "json" else "/iot/d"
    return Message(
        topic.apikey,
        topic.device_id,
        lambda: measure_groups(topic, payload, max_depth),
        prefer=prefer,
    )


class MqttSouthbound:
    """Listens on a broker's measure topics and writes what devices send."""

    def __init__(
        self,
        devices: DeviceService,
        host: str,
        port: int,
        *,
        identifier: str = "dalgu-gateway",
        lease: SessionLease | None = None,
        reconnect_delay: float = 1.0,
        authenticate: DeviceAuthenticator | None = None,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        self.devices = devices
        self.authenticate = authenticate  # the API-key check of the southbound edge
        self.host = host
        self.port = port
        self.identifier = identifier  # the client id of the server's one persistent session
        # which of the server's processes consumes the session (None: this one, always)
        self.lease = lease
        self.reconnect_delay = reconnect_delay
        self.max_depth = max_depth
        # set once subscribed or, standing by, connected (to publish commands)
        self.ready = asyncio.Event()
        self.standby = False  # another process of the server consumes the session
        self.received = 0
        self.failed = 0
        self._task: asyncio.Task[None] | None = None
        self._client: MqttConnection | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mqtt-southbound")

    async def stop(self) -> None:
        """Disconnect (the broker keeps the session for the next consumer), then give up the
        lease: another process of the server takes it over."""
        await cancel_and_wait(self._task)
        self._task = None
        if self.lease is not None:
            self.lease.release()

    async def _run(self) -> None:
        delay = self.reconnect_delay
        while True:
            try:
                if self.lease is None or self.lease.try_acquire():
                    await self._session()
                else:
                    await self._stand_by()
            except (MqttError, DalguError, TimeoutError) as exc:
                if self.ready.is_set():  # it had been connected: a fresh outage
                    delay = self.reconnect_delay
                self.ready.clear()
                log.warning(
                    "MQTT broker %s:%d unavailable (%s); retrying in %.0f s",
                    self.host,
                    self.port,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except Exception as exc:  # a bug must not end the listener: start a new session
                self.ready.clear()
                outage = self.devices.entities.outage(exc)
                if outage is not None:  # nothing acknowledged: the broker sends it all again
                    log.warning(
                        "MQTT southbound on %s:%d: %s; messages not stored are not acknowledged "
                        "and come again when it reconnects in %.0f s",
                        self.host,
                        self.port,
                        outage.detail,
                        delay,
                    )
                else:
                    log.exception(
                        "MQTT southbound session on %s:%d failed; reconnecting in %.0f s",
                        self.host,
                        self.port,
                        delay,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _session(self) -> None:
        # a persistent session: QoS 1 messages not acknowledged before a crash, and those
        # published while no process of the server was connected, come to the next consumer
        client = await MqttConnection.open(
            self.host,
            self.port,
            self.identifier,
            clean_session=False,
            credentials=own_credentials(self.host, self.port),
        )
        try:
            await client.subscribe([(topic, 1) for topic in TOPICS])
            self._client = client
            self.standby = False
            self.ready.set()
            log.info(
                "MQTT southbound connected to the broker %s:%d as %s, subscribed",
                self.host,
                self.port,
                self.identifier,
            )
            while True:
                # what has come meanwhile is stored in the same write, acknowledged after it
                batch = await client.take(BATCH)
                await self._handle_batch(client, batch)
                client.acknowledge(batch)
        finally:
            self._client = None
            await client.close()

    async def _stand_by(self) -> None:
        """Publish commands only, on a clean session, until this process takes the lease."""
        assert self.lease is not None
        client = await MqttConnection.open(
            self.host,
            self.port,
            f"{self.identifier}-standby-{os.getpid()}",
            clean_session=True,
            credentials=own_credentials(self.host, self.port),
        )
        try:
            self._client = client
            if not self.standby:
                log.info(
                    "MQTT southbound standing by: another process of this server consumes "
                    "the session %s on %s:%d; this one publishes commands",
                    self.identifier,
                    self.host,
                    self.port,
                )
            self.standby = True
            self.ready.set()
            while not self.lease.try_acquire():
                with contextlib.suppress(TimeoutError):  # MqttError when the broker goes away
                    await asyncio.wait_for(client.lost(), STANDBY_POLL)
            log.info("MQTT southbound takes over the session %s", self.identifier)
        finally:
            self._client = None
            await client.close()

    async def send_command(self, command: DeviceCommand) -> None:
        """The `CommandSink` for MQTT devices: publish on `/<apikey>/<device_id>/cmd`."""
        client = self._client
        if client is None:
            raise DalguError("the MQTT broker is not connected")
        topic = f"/{command.apikey}/{command.device_id}/cmd"
        try:
            await client.publish(topic, command_payload(command), qos=1)
        except (MqttError, TimeoutError) as exc:
            raise DalguError(f"publishing the command failed: {exc}") from None

    async def _handle_batch(self, client: MqttConnection, batch: list[Publish]) -> None:
        """Store the measures of a batch in one write; command results and refusals apart."""
        measures: list[tuple[MeasureTopic, bytes]] = []
        refusals: dict[str, Unauthorized | None] = {}  # by API key, checked once a batch
        for message in batch:
            payload = message.payload
            topic = parse_topic(message.topic)
            kind = "attrs"
            if topic is None:
                topic, kind = parse_topic(message.topic, "cmdexe"), "cmdexe"
                if topic is None:  # matched a subscription, but names no apikey/device/kind
                    log.warning(
                        "message on %r dropped: not a measure or result topic", message.topic
                    )
                    continue
            if self.authenticate is not None:
                if topic.apikey not in refusals:
                    refusals[topic.apikey] = await self._check(topic)
                refusal = refusals[topic.apikey]
                if refusal is not None:
                    self.devices.refused(
                        "mqtt", topic.apikey, topic.device_id, time.time(), (), refusal
                    )
                    await self._refuse(client, topic, refusal)
                    continue
            if kind == "cmdexe":
                await self._results(client, topic, payload)
                continue
            measures.append((topic, payload))
        if not measures:
            return
        self.received += len(measures)
        try:
            outcomes = await self.devices.receive_batch(
                "mqtt", [_parser(topic, payload, self.max_depth) for topic, payload in measures]
            )
        except DalguError:  # the store is unavailable: no PUBACK, the broker resends
            raise
        except Exception:  # a bug must not wedge the listener on these messages forever
            log.exception("a batch of %d measures failed", len(measures))
            for topic, _ in measures:
                await self._refuse(client, topic, DalguError("the measure could not be processed"))
            return
        for (topic, _), outcome in zip(measures, outcomes, strict=True):
            if outcome is not None:
                await self._refuse(client, topic, outcome)

    async def _check(self, topic: MeasureTopic) -> Unauthorized | None:
        assert self.authenticate is not None
        try:
            await self.authenticate(topic.apikey)
        except Unauthorized as error:
            return error
        return None

    async def _results(self, client: MqttConnection, topic: MeasureTopic, payload: bytes) -> None:
        try:
            if topic.format != "ul" and payload.lstrip()[:1] in (b"{", b"["):
                check_depth(payload, self.max_depth)
            for name, result in command_results(topic.format, payload).items():
                await self.devices.command_result(topic.apikey, topic.device_id, name, result)
        except DalguError as error:
            if error.status >= 500:
                raise
            await self._refuse(client, topic, error)

    async def _refuse(self, client: MqttConnection, topic: MeasureTopic, error: DalguError) -> None:
        self.failed += 1
        if isinstance(error, UnknownApiKey):
            # maybe another deployment's key on a shared broker: not ours to answer or to warn
            # of; on Dalgu's own embedded broker no one else's devices publish
            embedded = own_credentials(self.host, self.port) is not None
            log.log(
                logging.WARNING if embedded else logging.DEBUG,
                "measure for %s/%s ignored: %s",
                shown(topic.apikey),
                topic.device_id,
                error.detail,
            )
            return
        log.warning(
            "measure for %s/%s refused: %s", shown(topic.apikey), topic.device_id, error.detail
        )
        problem = {"type": error.type_uri, "title": error.title, "detail": error.detail}
        errors = f"{topic.prefix}{topic.apikey}/{topic.device_id}/errors"
        with contextlib.suppress(MqttError):
            await client.publish(errors, orjson.dumps(problem), qos=0)
