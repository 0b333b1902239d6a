"""MQTT 3.1.1 framing, the part the southbound client needs: pure functions, no I/O.

Encodes CONNECT, SUBSCRIBE, PUBLISH (QoS 0 and 1), PUBACK, PINGREQ and DISCONNECT, and splits
a byte stream into packets (`PacketReader`), however the stream was cut. QoS 2 is not spoken:
the southbound subscribes at QoS 1 at most, so a broker never sends it.
"""

from __future__ import annotations

from typing import Final, NamedTuple

CONNECT: Final = 1
CONNACK: Final = 2
PUBLISH: Final = 3
PUBACK: Final = 4
SUBSCRIBE: Final = 8
SUBACK: Final = 9
PINGREQ: Final = 12
PINGRESP: Final = 13
DISCONNECT: Final = 14

PINGREQ_PACKET: Final = b"\xc0\x00"
DISCONNECT_PACKET: Final = b"\xe0\x00"
MAX_PACKET: Final = 268_435_455  # the largest remaining length 4 bytes can say


class MqttError(Exception):
    """The broker connection failed or broke (refused, closed, timed out)."""


class MqttProtocolError(MqttError):
    """The broker sent bytes that are not MQTT 3.1.1 as this client speaks it."""


class Publish(NamedTuple):
    """A PUBLISH packet from the broker (a tuple: one is made for every message)."""

    topic: str
    payload: bytes
    qos: int
    packet_id: int  # 0 at QoS 0
    retain: bool = False
    dup: bool = False


def remaining_length(size: int) -> bytes:
    """The variable-length encoding of a packet's remaining length."""
    if not 0 <= size <= MAX_PACKET:
        raise ValueError(f"a packet of {size} bytes cannot be framed")
    out = bytearray()
    while True:
        size, digit = divmod(size, 128)
        out.append(digit | (0x80 if size else 0))
        if not size:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 0xFFFF:
        raise ValueError("an MQTT string holds 65,535 bytes at most")
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(
    client_id: str,
    *,
    keepalive: int,
    clean_session: bool,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    flags = 0x02 if clean_session else 0x00
    payload = _string(client_id)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
        if password is not None:
            flags |= 0x40
            payload += _string(password)
    body = _string("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + payload
    return b"\x10" + remaining_length(len(body)) + body


def subscribe_packet(packet_id: int, topics: list[tuple[str, int]]) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"".join(
        _string(topic) + bytes([qos]) for topic, qos in topics
    )
    return b"\x82" + remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes, *, qos: int, packet_id: int = 0) -> bytes:
    if qos not in (0, 1):
        raise ValueError("this client publishes at QoS 0 or 1")
    body = _string(topic) + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    return bytes([0x30 | qos << 1]) + remaining_length(len(body)) + body


def puback_packet(packet_id: int) -> bytes:
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


def decode_publish(flags: int, body: bytes) -> Publish:
    """A PUBLISH packet's topic, payload and delivery fields from its fixed-header flags."""
    qos = (flags >> 1) & 0x03
    if qos > 1:
        raise MqttProtocolError(f"a PUBLISH at QoS {qos}, above what was subscribed")
    if len(body) < 2:
        raise MqttProtocolError("a PUBLISH without a topic")
    start = 2 + (body[0] << 8 | body[1])
    if len(body) < start + (2 if qos else 0):
        raise MqttProtocolError("a PUBLISH shorter than its topic")
    try:
        topic = body[2:start].decode()
    except UnicodeDecodeError:
        raise MqttProtocolError("a PUBLISH topic that is not UTF-8") from None
    packet_id = 0
    if qos:
        packet_id = body[start] << 8 | body[start + 1]
        start += 2
    return Publish(topic, body[start:], qos, packet_id, bool(flags & 0x01), bool(flags & 0x08))


class PacketReader:
    """Splits a byte stream into (packet type, flags, body), whatever the chunks it came in."""

    __slots__ = ("_rest",)

    def __init__(self) -> None:
        self._rest = b""  # the start of a packet not all here yet

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        """The packets `data` completes, in order; a partial packet waits for the next feed."""
        if self._rest:
            data = self._rest + data
        packets: list[tuple[int, int, bytes]] = []
        position, end = 0, len(data)
        while end - position >= 2:
            size = data[position + 1]
            cursor = position + 2
            if size & 0x80:  # a remaining length of more than one byte
                size &= 0x7F
                shift, digit = 7, 0x80
                while cursor < end:
                    digit = data[cursor]
                    cursor += 1
                    size |= (digit & 0x7F) << shift
                    if not digit & 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        raise MqttProtocolError("a remaining length longer than 4 bytes")
                if digit & 0x80:
                    break  # the length is not all here yet
            if cursor + size > end:
                break  # the body is not all here yet
            head = data[position]
            position = cursor + size
            packets.append((head >> 4, head & 0x0F, data[cursor:position]))
        self._rest = data[position:] if position < end else b""
        return packets
