"""Send one notification to an endpoint: HTTP(S) POST or MQTT(S) publish (clause 7.x).

Each sender raises `DeliveryFailed` with a reason when the receiver did not take it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson

from dalgu.subscriptions.http1 import FIELD_NAME, FIELD_VALUE, HttpFailure, HttpPool

log = logging.getLogger("dalgu.notifier")

#: the longest an endpoint's `timeout` may make a notification wait for its answer: the
#: NGSI-LD system "can override this value" (clause 5.2.15), and a longer one would hold a
#: delivery lane
LONGEST_TIMEOUT = 60.0


def answer_within(endpoint: dict[str, Any]) -> float | None:
    """Seconds an HTTP notification waits for its answer, from the endpoint's `timeout`
    (milliseconds); None: the sender's own (10 s)."""
    given = endpoint.get("timeout")
    return None if given is None else min(float(given) / 1000, LONGEST_TIMEOUT)


#: headers a `receiverInfo` entry may not name (compared without case): those the notifier
#: writes itself (Host, Content-Length, Content-Type, Link, NGSILD-Tenant), those that frame the
#: message or manage the connection (RFC 9110 7.6.1, 7.8, 8.4, 10.1.1; RFC 9112 6, 9.6), and
#: `Proxy-*` ones, meant for a proxy on the way
OWN_OR_FRAMING = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "link",
        "ngsild-tenant",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
    }
)
#: a control character but the tab (C0, DEL, C1): no header or metadata value holds one
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def receiver_info_problem(key: str, value: str, *, http: bool) -> str | None:
    """Why a `receiverInfo` entry (clause 5.2.15) cannot be conveyed to the receiver as
    given, or None. HTTP endpoints get each entry as a header, so its key is a field name
    (RFC 9110 5.1) that neither the notifier nor the message's framing uses, and its value
    visible ASCII with inner spaces or tabs (RFC 9110 5.5; a receiver strips surrounding
    whitespace, and reads non-ASCII bytes as opaque `obs-text`): text beyond it is for the
    subscriber to encode. MQTT endpoints get the entries in the message's JSON `metadata`
    (clause 7.2), which carries any text but a control character; their keys follow the same
    rules, so the endpoint can change between the two."""
    if not FIELD_NAME.fullmatch(key):
        return (
            f"receiverInfo key {key!r} is not an HTTP field name (RFC 9110 5.1: one or more "
            "letters, digits or !#$%&'*+-.^_`|~)"
        )
    name = key.lower()
    if name in OWN_OR_FRAMING or name.startswith("proxy-"):
        return (
            f"receiverInfo key {key!r} names a header the notifier sets itself or that frames "
            "the message or its connection; it cannot be given"
        )
    if _CONTROL.search(value):
        return (
            f"receiverInfo {key} value holds a control character (CR, LF, NUL, ...), which no "
            "header can carry"
        )
    if http and not value.isascii():
        return (
            f"receiverInfo {key} value holds a character outside visible ASCII, which an HTTP "
            "header cannot carry unaltered (RFC 9110 5.5); encode it (for instance "
            "percent-encoding or Base64) before giving it"
        )
    if http and not FIELD_VALUE.fullmatch(value):
        return (
            f"receiverInfo {key} value begins or ends with whitespace, which the receiver "
            "would not see (RFC 9110 5.5)"
        )
    return None


def receiver_info_problems(endpoint: dict[str, Any]) -> list[str]:
    """Why each of the endpoint's `receiverInfo` entries cannot be conveyed, and a key given
    twice (header names are compared without case); empty when all can."""
    http = not endpoint.get("uri", "").startswith(("mqtt://", "mqtts://"))
    problems: list[str] = []
    seen: set[str] = set()
    for item in endpoint.get("receiverInfo") or []:
        key, value = item.get("key"), item.get("value")
        if not isinstance(key, str) or not isinstance(value, str):
            problems.append("receiverInfo entries are {key, value} strings")
            continue
        problem = receiver_info_problem(key, value, http=http)
        if problem is None and key.lower() in seen:
            problem = f"receiverInfo gives the key {key!r} twice (header names ignore case)"
        seen.add(key.lower())
        if problem is not None:
            problems.append(problem)
    return problems


def conveyable(endpoint: dict[str, Any]) -> dict[str, Any]:
    """The endpoint with only the `receiverInfo` entries that pass `receiver_info_problem`
    (the first of a key given twice): what a subscription stored before Dalgu checked them
    at creation may still hold is left out, never written as a header."""
    info = endpoint.get("receiverInfo")
    if not info or not receiver_info_problems(endpoint):
        return endpoint
    http = not endpoint["uri"].startswith(("mqtt://", "mqtts://"))
    kept: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in info:
        key, value = item.get("key"), item.get("value")
        if (
            isinstance(key, str)
            and isinstance(value, str)
            and receiver_info_problem(key, value, http=http) is None
            and key.lower() not in seen
        ):
            seen.add(key.lower())
            kept.append(item)
    return {**endpoint, "receiverInfo": kept}


class DeliveryFailed(Exception):
    """The endpoint refused or could not be reached; the delivery is retried later."""


class HttpSender:
    """POSTs over kept-alive connections (`HttpPool`): one small request, a status back."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._pool = HttpPool(timeout)

    async def close(self) -> None:
        await self._pool.close()

    async def send(
        self, uri: str, headers: dict[str, str], body: bytes, within: float | None = None
    ) -> None:
        """POST one notification; `within` (seconds) overrides the pool's timeout for it."""
        try:
            status = await self._pool.post(uri, headers, body, within)
        except HttpFailure as exc:
            raise DeliveryFailed(str(exc)) from None
        if status >= 300:
            raise DeliveryFailed(f"HTTP {status}")


def _info(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {i["key"]: i["value"] for i in items or []}


def _no_delay(client: Any) -> None:
    """Send each publish at once: paho leaves Nagle's algorithm on, so a small publish
    written while the previous one is unacknowledged waited for the broker's delayed ACK
    (up to 40 ms on Linux) and notifications queued behind it. aiomqtt gives no handle on
    the socket but its paho client's."""
    sock = client._client.socket()
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _on_disconnect(client: Any, then: Callable[[], None]) -> None:
    """Run `then` when aiomqtt's client loses its connection, and take the loss's exception:
    an idle kept connection whose broker went away (the embedded one stopping first at
    shutdown) left its future's exception unretrieved, logged as an error by asyncio."""
    disconnected = getattr(client, "_disconnected", None)  # aiomqtt 2.x keeps it there
    if not isinstance(disconnected, asyncio.Future):
        return

    def taken(future: asyncio.Future[None]) -> None:
        if not future.cancelled():
            future.exception()
        then()

    disconnected.add_done_callback(taken)


def _refuses_version(error: Exception) -> bool:
    """A CONNACK refusing the protocol version: 0x84 from an MQTT 5 broker, return code 1
    from a 3.1.1-only one (paho reads it as 0x84 too on a 5.0 connection)."""
    from aiomqtt.exceptions import MqttConnectError

    code = getattr(error, "rc", None)
    return isinstance(error, MqttConnectError) and getattr(code, "value", code) in (1, 0x84)


class MqttSender:
    """Publishes with aiomqtt (paho): QoS and protocol version from `notifierInfo`.

    The version is MQTT 5.0 unless `MQTT-Version` says mqtt3.1.1 (clause 7.2, Table 7.2-1).
    A broker that refuses 5.0 when no version was given (a 3.1.1-only one, such as the
    embedded amqtt broker) gets 3.1.1 instead, from then on; an explicit mqtt5.0 is kept to.
    One connection per broker (host, port, credentials, version) is kept open and reused;
    a failed one is dropped and reopened on the next delivery.
    """

    def __init__(self) -> None:
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._locks: dict[tuple[Any, ...], asyncio.Lock] = {}
        #: brokers (host, port, credentials, secure) that refused MQTT 5.0
        self._only_3_1_1: set[tuple[Any, ...]] = set()

    async def close(self) -> None:
        for client in list(self._clients.values()):
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)
        self._clients.clear()

    async def _client(self, key: tuple[Any, ...]) -> Any:
        import aiomqtt

        client = self._clients.get(key)
        if client is None:
            host, port, username, password, version, secure = key
            client = aiomqtt.Client(
                host,
                port=port,
                username=username,
                password=password,
                protocol=version,
                tls_context=ssl.create_default_context() if secure else None,
                timeout=10,
            )
            # publishes are pipelined by design (a subscription's batch goes out at once):
            # the library's warning past 10 in flight would log once per notification
            client.pending_calls_threshold = 1_000_000
            await client.__aenter__()
            _no_delay(client)
            self._clients[key] = client
            _on_disconnect(client, lambda: self._forget(key, client))
        return client

    def _forget(self, key: tuple[Any, ...], client: Any) -> None:
        """A connection the broker dropped: the next delivery opens a new one."""
        if self._clients.get(key) is client:
            del self._clients[key]

    async def send(
        self,
        uri: str,
        headers: dict[str, str],
        body: bytes,
        notifier_info: list[dict[str, str]] | None,
    ) -> None:
        import aiomqtt

        parts = urlsplit(uri)
        info = _info(notifier_info)
        try:
            qos = int(info.get("MQTT-QoS", "0"))
        except ValueError:
            qos = -1
        asked = info.get("MQTT-Version")
        secure = parts.scheme == "mqtts"
        topic = parts.path.lstrip("/")
        if not topic or qos not in (0, 1, 2):
            raise DeliveryFailed(f"invalid MQTT endpoint {uri} (topic and QoS 0-2 required)")
        message: dict[str, Any] = {"metadata": headers, "body": orjson.loads(body)}
        broker = (
            parts.hostname or "127.0.0.1",
            parts.port or (8883 if secure else 1883),
            parts.username,
            parts.password,
        )
        version = (
            aiomqtt.ProtocolVersion.V311
            if asked == "mqtt3.1.1" or (asked is None and (*broker, secure) in self._only_3_1_1)
            else aiomqtt.ProtocolVersion.V5
        )
        key = (*broker, version, secure)
        try:
            try:
                async with self._locks.setdefault(key, asyncio.Lock()):
                    client = await self._client(key)
            except aiomqtt.MqttError as exc:
                if asked is not None or version != aiomqtt.ProtocolVersion.V5:
                    raise
                if not _refuses_version(exc):
                    raise
                self._only_3_1_1.add((*broker, secure))
                key = (*broker, aiomqtt.ProtocolVersion.V311, secure)
                async with self._locks.setdefault(key, asyncio.Lock()):
                    client = await self._client(key)
            await client.publish(topic, orjson.dumps(message), qos=qos)
        except (aiomqtt.MqttError, OSError) as exc:
            dropped = self._clients.pop(key, None)
            if dropped is not None:
                with contextlib.suppress(Exception):
                    await dropped.__aexit__(None, None, None)
            raise DeliveryFailed(f"MQTT: {exc}") from None
