"""The southbound's MQTT client against the machine's Mosquitto (a real client publishes)."""

from __future__ import annotations

import asyncio
import socket
import uuid

import aiomqtt
import pytest

from dalgu.gateway.mqttclient import MqttConnection
from dalgu.gateway.mqttwire import MqttError, Publish

HOST, PORT = "127.0.0.1", 1883


async def device_publishes(topic: str, payloads: list[bytes]) -> None:
    async with aiomqtt.Client(HOST, PORT, identifier=f"device-{uuid.uuid4().hex[:6]}") as device:
        for payload in payloads:
            await device.publish(topic, payload, qos=1)


async def take(connection: MqttConnection, count: int) -> list[Publish]:
    taken: list[Publish] = []
    async with asyncio.timeout(10):
        while len(taken) < count:
            taken += await connection.take(count - len(taken))
    return taken


async def forget(client_id: str) -> None:
    """End the persistent session the test left on the shared broker."""
    connection = await MqttConnection.open(HOST, PORT, client_id, clean_session=True)
    await connection.close()


def test_messages_taken_but_not_acknowledged_come_again() -> None:
    client_id, topic = f"gw-{uuid.uuid4().hex[:8]}", f"test/{uuid.uuid4().hex[:8]}/attrs"
    payloads = [b"t|1", b"t|2", b"t|3"]

    async def scenario() -> None:
        try:
            first = await MqttConnection.open(HOST, PORT, client_id)
            await first.subscribe([(topic, 1)])
            await device_publishes(topic, payloads)
            assert [m.payload for m in await take(first, 3)] == payloads
            await first.close()  # stored nothing, acknowledged nothing

            second = await MqttConnection.open(HOST, PORT, client_id)
            again = await take(second, 3)
            assert [m.payload for m in again] == payloads
            assert all(m.dup and m.qos == 1 for m in again)
            second.acknowledge(again)
            await second.close()

            third = await MqttConnection.open(HOST, PORT, client_id)
            await device_publishes(topic, [b"t|4"])
            assert [m.payload for m in await take(third, 1)] == [b"t|4"]
            third.acknowledge([])  # nothing to send: t|4 comes again next time
            await third.close()
        finally:
            await forget(client_id)

    asyncio.run(scenario())


def test_a_batch_taken_keeps_the_order_of_publishing() -> None:
    client_id, topic = f"gw-{uuid.uuid4().hex[:8]}", f"test/{uuid.uuid4().hex[:8]}/attrs"
    payloads = [f"t|{n}".encode() for n in range(300)]

    async def scenario() -> None:
        connection = await MqttConnection.open(HOST, PORT, client_id, clean_session=True)
        try:
            await connection.subscribe([(topic, 1)])
            publishing = asyncio.create_task(device_publishes(topic, payloads))
            taken: list[Publish] = []
            async with asyncio.timeout(20):
                while len(taken) < len(payloads):
                    batch = await connection.take(50)
                    assert 1 <= len(batch) <= 50
                    connection.acknowledge(batch)  # the broker sends more as acks come
                    taken += batch
            await publishing
            assert [m.payload for m in taken] == payloads
        finally:
            await connection.close()

    asyncio.run(scenario())


def test_an_unreachable_broker_is_an_mqtt_error() -> None:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]  # bound, not listening: the connection is refused
        with pytest.raises(MqttError, match="cannot connect"):
            asyncio.run(MqttConnection.open(HOST, port, "gw-nowhere"))


def test_a_closed_connection_ends_take_with_an_mqtt_error() -> None:
    async def scenario() -> None:
        connection = await MqttConnection.open(
            HOST, PORT, f"gw-{uuid.uuid4().hex[:8]}", clean_session=True
        )
        waiting = asyncio.create_task(connection.take(10))
        await asyncio.sleep(0.05)
        await connection.close()
        with pytest.raises(MqttError):
            await waiting

    asyncio.run(scenario())
