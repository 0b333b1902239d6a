"""MQTT 3.1.1 framing of the southbound client: lengths, packets, a stream cut anywhere."""

from __future__ import annotations

import pytest

from dalgu.gateway.mqttwire import (
    PUBLISH,
    MqttProtocolError,
    PacketReader,
    Publish,
    connect_packet,
    decode_publish,
    puback_packet,
    publish_packet,
    remaining_length,
    subscribe_packet,
)


@pytest.mark.parametrize(
    ("size", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_remaining_length_follows_the_spec_examples(size: int, encoded: bytes) -> None:
    assert remaining_length(size) == encoded
    packet = b"\x30" + encoded
    if size <= 16_384:  # whole packets for the small ones: the reader finds the same length
        body = bytes(size)
        assert PacketReader().feed(packet + body) == [(PUBLISH, 0, body)]


def test_remaining_length_past_four_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be framed"):
        remaining_length(268_435_456)
    with pytest.raises(MqttProtocolError, match="longer than 4 bytes"):
        PacketReader().feed(b"\x30\xff\xff\xff\xff\x01")


def test_connect_packet_bytes() -> None:
    assert connect_packet("gw", keepalive=30, clean_session=False) == (
        b"\x10\x0e\x00\x04MQTT\x04\x00\x00\x1e\x00\x02gw"
    )
    assert connect_packet("gw", keepalive=30, clean_session=True)[9] == 0x02


def test_subscribe_packet_bytes() -> None:
    assert subscribe_packet(7, [("/+/+/attrs", 1), ("a", 0)]) == (
        b"\x82\x13\x00\x07\x00\x0a/+/+/attrs\x01\x00\x01a\x00"
    )


def test_publish_round_trips_at_qos_0_and_1() -> None:
    for qos, packet_id in ((0, 0), (1, 513)):
        packet = publish_packet("/k/d1/attrs", b"t|21.5", qos=qos, packet_id=packet_id)
        ((kind, flags, body),) = PacketReader().feed(packet)
        assert kind == PUBLISH
        assert decode_publish(flags, body) == Publish("/k/d1/attrs", b"t|21.5", qos, packet_id)


def test_puback_carries_the_packet_id() -> None:
    assert puback_packet(513) == b"\x40\x02\x02\x01"


def test_a_stream_cut_anywhere_gives_the_same_packets() -> None:
    packets = [
        publish_packet(f"/k/d{n}/attrs", b"x" * (n * 37), qos=1, packet_id=n + 1) for n in range(12)
    ]
    stream = b"".join(packets) + b"\xd0\x00"  # and a PINGRESP
    whole = PacketReader().feed(stream)
    assert len(whole) == 13
    for step in (1, 2, 3, 7, 100):
        reader = PacketReader()
        pieces = [reader.feed(stream[i : i + step]) for i in range(0, len(stream), step)]
        assert [p for piece in pieces for p in piece] == whole


@pytest.mark.parametrize(
    ("flags", "body", "message"),
    [
        (0x04, b"\x00\x01a\x00\x01", "QoS 2"),
        (0x00, b"\x00", "without a topic"),
        (0x02, b"\x00\x05ab", "shorter than its topic"),
        (0x00, b"\x00\x02\xff\xfe", "not UTF-8"),
    ],
)
def test_malformed_publish_is_a_protocol_error(flags: int, body: bytes, message: str) -> None:
    with pytest.raises(MqttProtocolError, match=message):
        decode_publish(flags, body)
