"""MQTT notifications speak MQTT 5.0 unless the endpoint's `notifierInfo` says `MQTT-Version:
mqtt3.1.1` (clause 7.2, Table 7.2-1: the default is mqtt5.0; outside tester notif-2). A broker
that refuses 5.0 (the embedded amqtt one speaks 3.1.1 only) gets 3.1.1 when no version was
asked for; one asked for explicitly is kept to."""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import MQTTProtocolVersion
from starlette.testclient import TestClient

from dalgu.gateway.broker import EmbeddedBroker
from dalgu.subscriptions.endpoints import DeliveryFailed, MqttSender
from tests.ports import free_port

S = "/ngsi-ld/v1/subscriptions"
E = "/ngsi-ld/v1/entities"


class LevelRecorder:
    """A broker that notes the protocol level of each CONNECT and acknowledges it, or refuses
    level 5 as a 3.1.1-only broker does (CONNACK return code 1, then closes)."""

    def __init__(self, *, refuse_5: bool = False) -> None:
        self.levels: list[int] = []
        self.published = threading.Event()
        self.refuse_5 = refuse_5
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _packet(self, connection: socket.socket) -> tuple[int, bytes] | None:
        first = connection.recv(1)
        if not first:
            return None
        length, shift = 0, 0
        while True:
            byte = connection.recv(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        body = b""
        while len(body) < length:
            chunk = connection.recv(length - len(body))
            if not chunk:
                return None
            body += chunk
        return first[0] >> 4, body

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            while (packet := self._packet(connection)) is not None:
                kind, body = packet
                if kind == 1:  # CONNECT: name "MQTT" (2 + 4 bytes), then the level
                    level = body[6]
                    self.levels.append(level)
                    if level == 5 and self.refuse_5:
                        connection.sendall(b"\x20\x02\x00\x01")
                        return
                    connection.sendall(
                        b"\x20\x03\x00\x00\x00" if level == 5 else b"\x20\x02\x00\x00"
                    )
                elif kind == 3:  # PUBLISH at QoS 0: nothing to answer
                    self.published.set()
                elif kind == 12:  # PINGREQ
                    connection.sendall(b"\xd0\x00")
                elif kind == 14:  # DISCONNECT
                    return

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def recorder() -> Iterator[LevelRecorder]:
    broker = LevelRecorder()
    yield broker
    broker.close()


def send(uri: str, info: list[dict[str, str]] | None) -> None:
    async def run() -> None:
        sender = MqttSender()
        try:
            await asyncio.wait_for(sender.send(uri, {}, b'{"type":"Notification"}', info), 10)
        finally:
            await sender.close()

    asyncio.run(run())


@pytest.mark.parametrize(
    ("info", "level"),
    [
        (None, 5),
        ([{"key": "MQTT-QoS", "value": "0"}], 5),
        ([{"key": "MQTT-Version", "value": "mqtt5.0"}], 5),
        ([{"key": "MQTT-Version", "value": "mqtt3.1.1"}], 4),
    ],
)
def test_the_mqtt_version_is_5_unless_notifier_info_says_3_1_1(
    recorder: LevelRecorder, info: list[dict[str, str]] | None, level: int
) -> None:
    send(f"mqtt://127.0.0.1:{recorder.port}/notif/v", info)
    assert recorder.levels == [level]
    assert recorder.published.wait(5)


def test_a_broker_refusing_5_gets_3_1_1_when_no_version_was_asked_for() -> None:
    broker = LevelRecorder(refuse_5=True)
    try:
        send(f"mqtt://127.0.0.1:{broker.port}/notif/v", None)
        assert broker.levels == [5, 4]
        assert broker.published.wait(5)
    finally:
        broker.close()


def test_a_broker_refusing_5_fails_a_notification_that_asked_for_5() -> None:
    broker = LevelRecorder(refuse_5=True)
    try:
        with pytest.raises(DeliveryFailed, match="protocol version"):
            send(
                f"mqtt://127.0.0.1:{broker.port}/notif/v",
                [{"key": "MQTT-Version", "value": "mqtt5.0"}],
            )
        assert broker.levels == [5]
    finally:
        broker.close()


def test_the_embedded_3_1_1_broker_still_gets_default_notifications() -> None:
    async def run() -> list[Any]:
        port = free_port()
        broker = EmbeddedBroker("127.0.0.1", port)
        await broker.start()
        sender = MqttSender()
        try:
            await asyncio.wait_for(sender.send(f"mqtt://127.0.0.1:{port}/a/b", {}, b"{}", None), 10)
            return [key[4] for key in sender._clients]
        finally:
            await sender.close()
            await asyncio.wait_for(broker.stop(), 10)

    assert asyncio.run(run()) == [aiomqtt.ProtocolVersion.V311]


@pytest.fixture
def mqtt5_subscriber() -> Iterator[tuple[str, queue.Queue[Any]]]:
    """A subscriber on the machine's Mosquitto (1883), itself speaking MQTT 5."""
    topic = f"dalgu/test/{uuid.uuid4().hex}"
    messages: queue.Queue[Any] = queue.Queue()
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    subscriber.on_message = lambda c, u, m: messages.put(m)
    subscribed = threading.Event()
    subscriber.on_subscribe = lambda *args: subscribed.set()
    subscriber.connect("127.0.0.1", 1883)
    subscriber.subscribe(topic, qos=1)
    subscriber.loop_start()
    assert subscribed.wait(10)
    yield topic, messages
    subscriber.loop_stop()
    subscriber.disconnect()


def test_mosquitto_gets_a_default_notification_over_mqtt_5(
    mqtt5_subscriber: tuple[str, queue.Queue[Any]],
) -> None:
    topic, messages = mqtt5_subscriber

    async def run() -> list[Any]:
        sender = MqttSender()
        try:
            body = b'{"type":"Notification","data":[]}'
            await asyncio.wait_for(
                sender.send(f"mqtt://127.0.0.1:1883/{topic}", {}, body, None), 10
            )
            return [key[4] for key in sender._clients]
        finally:
            await sender.close()

    assert asyncio.run(run()) == [aiomqtt.ProtocolVersion.V5]  # Mosquitto took 5.0
    message = messages.get(timeout=10)
    assert json.loads(message.payload)["body"]["type"] == "Notification"


def test_a_subscription_without_notifier_info_notifies_mosquitto(
    client: TestClient, mqtt5_subscriber: tuple[str, queue.Queue[Any]]
) -> None:
    topic, messages = mqtt5_subscriber
    sub = {
        "type": "Subscription",
        "entities": [{"type": "Yacht"}],
        "notification": {"endpoint": {"uri": f"mqtt://127.0.0.1:1883/{topic}"}},
    }
    assert client.post(S, json=sub).status_code == 201
    yacht = {"id": "urn:ngsi-ld:Yacht:y1", "type": "Yacht", "n": {"type": "Property", "value": 1}}
    client.post(E, json=yacht)
    message = json.loads(messages.get(timeout=10).payload)
    assert message["body"]["data"][0]["n"]["value"] == 1
    assert message["metadata"]["Content-Type"] == "application/json"
