"""The embedded MQTT broker's sessions, Wills, keep-alive and bounds, seen from raw sockets:
what a device (or an anonymous client) gets on the wire (MQTT 3.1.1)."""

from __future__ import annotations

import socket
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.gateway.brokersessions import MAX_RETAINED_BYTES
from dalgu.settings import Settings
from tests.devices.conftest import wait_for
from tests.ports import free_port, serving

E = "/ngsi-ld/v1/entities"


class Broker:
    """A running Dalgu with its embedded broker: its API client, port and gateway client id."""

    def __init__(self, client: TestClient, port: int, gateway_id: str) -> None:
        self.client, self.port, self.gateway_id = client, port, gateway_id


@pytest.fixture
def broker(settings: Settings) -> Iterator[Broker]:
    def ports() -> dict[str, Any]:
        return {
            "mqtt_broker": "embedded",
            "mqtt_port": free_port(),
            "mqtt_client_id": f"dalgu-test-{uuid.uuid4().hex[:8]}",
        }

    with serving(settings, ports) as (client, configured):
        yield Broker(client, configured.mqtt_port, configured.mqtt_session_id)


def _string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(raw)) + raw


def _length(size: int) -> bytes:
    out = b""
    while True:
        size, digit = divmod(size, 128)
        out += bytes([digit | (0x80 if size else 0)])
        if not size:
            return out


def connect(
    client_id: str,
    *,
    clean: bool = True,
    keepalive: int = 60,
    will: tuple[str, str] | None = None,
    flags: int = 0,
) -> bytes:
    flags |= 0x02 if clean else 0
    payload = _string(client_id)
    if will is not None:
        flags |= 0x04
        payload += _string(will[0]) + _string(will[1])
    body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return b"\x10" + _length(len(body)) + body


def publish(
    topic: str, payload: bytes, *, qos: int = 0, packet_id: int = 1, retain: bool = False
) -> bytes:
    body = _string(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return bytes([0x30 | qos << 1 | int(retain)]) + _length(len(body)) + body


def subscribe(topic_filter: str, qos: int = 1, packet_id: int = 1) -> bytes:
    body = struct.pack("!H", packet_id) + _string(topic_filter) + bytes([qos])
    return b"\x82" + _length(len(body)) + body


class Wire:
    """A raw MQTT connection: what is written, and the packets that come back."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.rest = b""
        self.closed = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def packet(self, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """The next packet (first byte, body), or None when the broker closed or stayed
        silent for `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
            self.rest += data

    def _parse(self) -> tuple[int, bytes] | None:
        if len(self.rest) < 2:
            return None
        size, shift, cursor = 0, 0, 1
        while cursor < len(self.rest):
            digit = self.rest[cursor]
            size |= (digit & 0x7F) << shift
            cursor += 1
            if not digit & 0x80:
                break
            shift += 7
        else:
            return None
        if len(self.rest) < cursor + size:
            return None
        head, body = self.rest[0], self.rest[cursor : cursor + size]
        self.rest = self.rest[cursor + size :]
        return head, body

    def connack(self) -> tuple[int, int] | None:
        """(session present, return code) of the CONNACK, or None if closed without one."""
        reply = self.packet()
        if reply is None:
            return None
        assert reply[0] == 0x20, reply
        return reply[1][0], reply[1][1]

    def gone(self, timeout: float = 10.0) -> bool:
        """Whether the broker closes the connection within `timeout` s (packets skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.packet(deadline - time.monotonic()) is None:
                return self.closed
        return False

    def close(self) -> None:
        self.sock.close()


def _publishes(wire: Wire, timeout: float = 3.0) -> list[tuple[int, str, bytes]]:
    """The PUBLISH packets that come within `timeout` s: (flags, topic, payload)."""
    found = []
    while (reply := wire.packet(timeout)) is not None:
        head, body = reply
        if head >> 4 == 3:
            start = 2 + (body[0] << 8 | body[1])
            qos = (head >> 1) & 3
            found.append((head & 0x0F, body[2:start].decode(), body[start + (2 if qos else 0) :]))
            timeout = 1.0
    return found


def _provision(client: TestClient) -> tuple[str, str]:
    apikey = f"k{uuid.uuid4().hex[:10]}"
    body = {
        "device_id": "bell1",
        "apikey": apikey,
        "entity_type": "Bell",
        "transport": "MQTT",
        "commands": [{"name": "ring", "type": "command"}],
    }
    assert client.post("/iot/devices", json={"devices": [body]}).status_code == 201
    return apikey, "urn:ngsi-ld:Bell:bell1"


def test_the_gateways_client_id_is_refused_to_anyone_else(broker: Broker) -> None:
    apikey, entity_id = _provision(broker.client)
    for clean in (False, True):
        thief = Wire(broker.port)
        thief.send(connect(broker.gateway_id, clean=clean))
        assert thief.connack() == (0, 0x02)  # identifier rejected
        thief.close()
    # other `dalgu-` ids are free (the testbed's simulated devices connect so)
    fleet = Wire(broker.port)
    fleet.send(connect(f"dalgu-fleet-{uuid.uuid4().hex[:8]}"))
    assert fleet.connack() == (0, 0)
    fleet.close()
    # the gateway still hears its devices
    device = Wire(broker.port)
    device.send(connect(f"bell-{apikey}"))
    assert device.connack() == (0, 0)
    device.send(publish(f"/{apikey}/bell1/attrs", b"t|7", qos=1))
    wait_for(broker.client, f"{E}/{entity_id}", lambda e: e.get("t", {}).get("value") == 7)
    health = broker.client.get("/health").json()
    assert health["checks"]["mqtt:connections"][0]["status"] == "pass"


@pytest.mark.parametrize("retain", [False, True])
def test_a_will_on_a_command_topic_is_refused(broker: Broker, retain: bool) -> None:
    apikey, _ = _provision(broker.client)
    device = Wire(broker.port)
    device.send(connect(f"bell-{apikey}") + subscribe(f"/{apikey}/bell1/cmd"))
    assert device.connack() == (0, 0)
    forger = Wire(broker.port)
    will = (f"/{apikey}/bell1/cmd", "bell1@ring|forged")
    forger.send(connect(f"f-{apikey}", will=will, flags=0x20 if retain else 0))
    assert forger.connack() == (0, 0x05)  # not authorized
    forger.close()
    assert [p for p in _publishes(device, 1.5) if p[1].endswith("/cmd")] == []
    late = Wire(broker.port)
    late.send(connect(f"late-{apikey}") + subscribe(f"/{apikey}/bell1/cmd"))
    assert late.connack() == (0, 0)
    assert _publishes(late, 1.5) == []


@pytest.mark.parametrize("flags", [0x04 | 0x18, 0x08, 0x20])
def test_a_connect_with_invalid_will_flags_is_closed(broker: Broker, flags: int) -> None:
    wire = Wire(broker.port)
    will = ("/k/d/x", "w") if flags & 0x04 else None
    wire.send(connect(f"w-{uuid.uuid4().hex[:6]}", will=will, flags=flags & ~0x04))
    assert wire.connack() is None and wire.closed


def test_a_silent_client_is_closed_and_its_will_published(broker: Broker) -> None:
    key = f"k{uuid.uuid4().hex[:8]}"
    watcher = Wire(broker.port)
    watcher.send(connect(f"watch-{key}") + subscribe(f"/{key}/dev/status"))
    assert watcher.connack() == (0, 0)
    silent = Wire(broker.port)
    silent.send(connect(f"silent-{key}", keepalive=1, will=(f"/{key}/dev/status", "offline")))
    assert silent.connack() == (0, 0)
    assert silent.gone(10)  # 1.5 s of silence is enough [MQTT-3.1.2-24]
    assert (0, f"/{key}/dev/status", b"offline") in [
        (flags & 0x01, topic, payload) for flags, topic, payload in _publishes(watcher, 5)
    ]


def test_a_clean_session_leaves_no_session_behind(broker: Broker) -> None:
    key, client_id = f"k{uuid.uuid4().hex[:8]}", f"p-{uuid.uuid4().hex[:6]}"
    for clean, present in ((False, 0), (True, 0), (False, 0), (False, 1)):
        wire = Wire(broker.port)
        wire.send(connect(client_id, clean=clean))
        assert wire.connack() == (present, 0)
        if not clean:
            wire.send(subscribe(f"/{key}/dev/cmd"))
            assert wire.packet() is not None
        wire.send(b"\xe0\x00")
        assert wire.gone()
        wire.close()


def _queue_for_offline_session(broker: Broker, key: str, client_id: str) -> None:
    wire = Wire(broker.port)
    wire.send(connect(client_id, clean=False) + subscribe(f"/{key}/dev/x"))
    assert wire.connack() is not None and wire.packet() is not None
    wire.send(b"\xe0\x00")
    assert wire.gone()
    sender = Wire(broker.port)
    sender.send(connect(f"s-{client_id}") + publish(f"/{key}/dev/x", b"queued", qos=1, packet_id=9))
    assert sender.connack() == (0, 0) and sender.packet() == (0x40, b"\x00\x09")
    sender.close()


def test_a_message_queued_for_an_offline_session_comes_without_retain(broker: Broker) -> None:
    key, client_id = f"k{uuid.uuid4().hex[:8]}", f"q-{uuid.uuid4().hex[:6]}"
    _queue_for_offline_session(broker, key, client_id)
    wire = Wire(broker.port)
    wire.send(connect(client_id, clean=False))
    assert wire.connack() == (1, 0)
    [(flags, topic, payload)] = _publishes(wire)
    assert (topic, payload, flags & 0x01) == (f"/{key}/dev/x", b"queued", 0)  # [MQTT-3.3.1-9]


def test_an_unacknowledged_message_is_sent_again_on_reconnect(broker: Broker) -> None:
    key, client_id = f"k{uuid.uuid4().hex[:8]}", f"r-{uuid.uuid4().hex[:6]}"
    _queue_for_offline_session(broker, key, client_id)
    wire = Wire(broker.port)
    wire.send(connect(client_id, clean=False))
    assert wire.connack() == (1, 0)
    reply = wire.packet()
    assert reply is not None and reply[0] >> 4 == 3
    first_id = reply[1][-len(b"queued") - 2 : -len(b"queued")]
    wire.close()  # gone without its PUBACK
    again = Wire(broker.port)
    again.send(connect(client_id, clean=False))
    assert again.connack() == (1, 0)
    reply = again.packet()
    assert reply is not None, "the unacknowledged PUBLISH was not sent again [MQTT-4.4.0-1]"
    head, body = reply
    assert head & 0x08 and (head >> 1) & 3 == 1  # DUP, QoS 1
    assert body.endswith(first_id + b"queued")  # its original packet identifier


def test_retained_messages_are_bounded_in_size(broker: Broker) -> None:
    key = f"k{uuid.uuid4().hex[:8]}"
    sender = Wire(broker.port)
    sender.send(connect(f"s-{key}"))
    assert sender.connack() == (0, 0)
    sender.send(publish(f"/{key}/big/x", b"B" * (MAX_RETAINED_BYTES + 1), retain=True))
    sender.send(publish(f"/{key}/small/x", b"small", retain=True))
    time.sleep(0.5)
    reader = Wire(broker.port)
    reader.send(connect(f"r-{key}") + subscribe(f"/{key}/#", qos=1))
    assert reader.connack() == (0, 0)
    found = [(topic, payload, (flags >> 1) & 3) for flags, topic, payload in _publishes(reader)]
    # the small one at QoS 0, the minimum of its own and the subscription's [MQTT-3.8.4-6]
    assert found == [(f"/{key}/small/x", b"small", 0)]


@pytest.mark.parametrize(
    "packet",
    [
        publish("/k/d\0/attrs", b"t|1", qos=1),  # U+0000 in a topic name
        publish("", b"t|1", qos=1),  # an empty topic name
        publish("/k/d/attrs", b"t|1", qos=1, packet_id=0),  # packet identifier 0
        b"\x36" + publish("/k/d/attrs", b"t|1", qos=1)[1:],  # both QoS bits
        b"\x38" + publish("/k/d/attrs", b"t|1")[1:],  # QoS 0 with DUP
        b"\x80" + subscribe("/k/d/cmd")[1:],  # SUBSCRIBE flags 0000
        b"\x82\x02\x00\x01",  # SUBSCRIBE without a filter
        subscribe("/k/d/cmd", qos=3),
    ],
)
def test_a_protocol_violation_closes_the_connection(broker: Broker, packet: bytes) -> None:
    wire = Wire(broker.port)
    wire.send(connect(f"v-{uuid.uuid4().hex[:6]}"))
    assert wire.connack() == (0, 0)
    wire.send(packet)
    assert wire.packet(5) is None and wire.closed  # neither PUBACK nor SUBACK: closed


@pytest.mark.parametrize(
    "first", [publish("/k/d/attrs", b"t|1"), b"\xc0\x00", b"GET / HTTP/1.1\r\n"]
)
def test_a_first_packet_other_than_connect_is_closed_at_once(broker: Broker, first: bytes) -> None:
    wire = Wire(broker.port)
    wire.send(first)
    assert wire.packet(5) is None and wire.closed  # within 5 s, not the 10 s of a silent one
