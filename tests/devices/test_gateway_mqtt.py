"""MQTT southbound with real brokers: the machine's Mosquitto (production) and the embedded
amqtt broker (single machine). Devices publish on the IoT Agents' topics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from typing import Any

import aiomqtt
import orjson
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.gateway.mqtt import MeasureTopic, measure_groups, parse_topic
from dalgu.settings import Settings
from tests.conftest import NO_GATEWAY_PORTS
from tests.devices.conftest import publish, wait_for

E = "/ngsi-ld/v1/entities"


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("/k1/dev1/attrs", MeasureTopic("/", "sniff", "k1", "dev1", None)),
        ("/k1/dev1/attrs/t", MeasureTopic("/", "sniff", "k1", "dev1", "t")),
        ("/ul/k1/dev1/attrs", MeasureTopic("/ul/", "ul", "k1", "dev1", None)),
        ("/json/k1/dev1/attrs/t", MeasureTopic("/json/", "json", "k1", "dev1", "t")),
        ("k1/dev1/attrs", MeasureTopic("", "sniff", "k1", "dev1", None)),
        ("/k1/dev1/cmdexe", None),
        ("/k1//attrs", None),
        ("/k1/dev1/attrs/", None),
    ],
)
def test_measure_topics(topic: str, expected: MeasureTopic | None) -> None:
    assert parse_topic(topic) == expected


def test_payload_format_follows_the_topic_or_the_payload() -> None:
    sniff = MeasureTopic("/", "sniff", "k", "d", None)
    assert measure_groups(sniff, b"t|1") == [({"t": 1}, None)]
    assert measure_groups(sniff, b' {"t": 1}') == [({"t": 1}, None)]
    single_json = MeasureTopic("/json/", "json", "k", "d", "t")
    assert measure_groups(single_json, b"21.5") == [({"t": 21.5}, None)]
    single_ul = MeasureTopic("/ul/", "ul", "k", "d", "t")
    assert measure_groups(single_ul, b"21.5") == [({"t": 21.5}, None)]


def provision(client: TestClient, apikey: str) -> None:
    group = {
        "apikey": apikey,
        "entity_type": "Sensor",
        "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
    }
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201


def test_measures_published_over_mqtt_are_stored(gateway: tuple[TestClient, int]) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    provision(client, apikey)
    publish(port, f"/{apikey}/dev1/attrs", b"t|21.5|h|40")
    url = f"{E}/urn:ngsi-ld:Sensor:dev1"
    entity = wait_for(client, url, lambda e: "temperature" in e)
    assert entity["temperature"]["value"] == 21.5 and entity["h"]["value"] == 40
    publish(port, f"/json/{apikey}/dev1/attrs/t", b"22")
    wait_for(client, url, lambda e: e.get("temperature", {}).get("value") == 22)
    publish(port, f"{apikey}/dev1/attrs", b'{"t": 23, "TimeInstant": "2026-11-25T08:00:00Z"}')
    entity = wait_for(client, url, lambda e: e.get("temperature", {}).get("value") == 23)
    assert entity["temperature"]["observedAt"] == "2026-11-25T08:00:00Z"


def test_bad_measures_are_reported_on_the_error_topic(gateway: tuple[TestClient, int]) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    provision(client, apikey)

    async def exchange() -> dict[str, Any]:
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"dev-{uuid.uuid4().hex[:6]}") as c:
            await c.subscribe(f"/{apikey}/dev2/errors", qos=1)
            await c.publish(f"/{apikey}/dev2/attrs", b"t|warm|h", qos=1)
            async with asyncio.timeout(10):
                async for message in c.messages:
                    payload = message.payload
                    assert isinstance(payload, bytes)
                    problem: dict[str, Any] = orjson.loads(payload)
                    return problem
        raise AssertionError("no error message")

    problem = asyncio.run(exchange())
    assert problem["type"].endswith("BadRequestData")
    assert "odd number of fields" in problem["detail"]
    # the listener carries on
    publish(port, f"/{apikey}/dev2/attrs", b"t|5")
    url = f"{E}/urn:ngsi-ld:Sensor:dev2"
    wait_for(client, url, lambda e: e.get("temperature", {}).get("value") == 5)


def test_an_unknown_api_key_gets_no_answer_on_a_shared_broker(
    gateway: tuple[TestClient, int],
) -> None:
    """Another deployment (or IoT Agent) on the same broker may own the key: Dalgu logs and
    counts the message but does not answer it as refused."""
    client, port = gateway
    known = f"k{uuid.uuid4().hex[:10]}"
    provision(client, known)
    stranger = f"k{uuid.uuid4().hex[:10]}"

    async def exchange() -> list[str]:
        topics: list[str] = []
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"dev-{uuid.uuid4().hex[:6]}") as c:
            await c.subscribe(f"/{stranger}/dev3/errors", qos=1)
            await c.subscribe(f"/{known}/dev3/errors", qos=1)
            await c.publish(f"/{stranger}/dev3/attrs", b"t|1", qos=1)
            await c.publish(f"/{known}/dev3/attrs", b"t|warm|h", qos=1)  # ours, and bad
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3):
                    async for message in c.messages:
                        topics.append(str(message.topic))
        return topics

    # QoS 1 is at least once: a loaded machine may see the answer twice, never the stranger's
    assert set(asyncio.run(exchange())) == {f"/{known}/dev3/errors"}


def test_a_taken_broker_port_does_not_stop_the_api(tmp_path: Any) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = Settings.load(
            sqlite_path=tmp_path / "d.db",
            mqtt_broker="embedded",
            mqtt_port=port,
            **NO_GATEWAY_PORTS,
        )
        with TestClient(build_app(settings)) as client:
            assert client.get("/ngsi-ld/v1/types").status_code == 200
            problems = client.app.state.dalgu_gateway.problems  # type: ignore[attr-defined]
            assert problems and f"127.0.0.1:{port}" in problems[0]


def test_the_southbound_reconnects_after_the_broker_restarts(settings: Settings) -> None:
    """A broker restart (here the embedded one on the same port) needs no Dalgu restart."""
    from dalgu.gateway.broker import EmbeddedBroker
    from tests.ports import free_port

    port = free_port()
    configured = settings.model_copy(
        update={"mqtt_broker": "embedded", "mqtt_port": port, "mqtt_client_id": "dalgu-restart"}
    )
    with TestClient(build_app(configured)) as client:
        gateway = client.app.state.dalgu_gateway  # type: ignore[attr-defined]
        southbound = gateway.southbound
        deadline = time.monotonic() + 10
        while not southbound.ready.is_set():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        group = {"apikey": "k-restart", "entity_type": "Sensor"}
        assert client.post("/iot/services", json={"services": [group]}).status_code == 201
        publish(port, "/k-restart/s1/attrs", b"t|1")
        wait_for(client, f"{E}/urn:ngsi-ld:Sensor:s1", lambda e: "t" in e)

        portal = client.portal  # type: ignore[attr-defined]
        portal.call(gateway.broker.stop)
        replacement = EmbeddedBroker("127.0.0.1", port)
        portal.call(replacement.start)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    publish(port, "/k-restart/s1/attrs", b"t|2")
                    wait_for(
                        client, f"{E}/urn:ngsi-ld:Sensor:s1", lambda e: e["t"]["value"] == 2, 2
                    )
                    break
                except AssertionError:
                    assert time.monotonic() < deadline, "the southbound never came back"
        finally:
            portal.call(replacement.stop)


def test_a_message_on_a_malformed_topic_is_logged_when_dropped(
    gateway: tuple[TestClient, int], caplog: pytest.LogCaptureFixture
) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    provision(client, apikey)
    caplog.set_level(logging.WARNING, logger="dalgu.gateway.mqtt")
    publish(port, f"/{apikey}/dev3/attrs/", b"5")  # an empty attribute name
    deadline = time.monotonic() + 10
    while f"/{apikey}/dev3/attrs/" not in caplog.text:
        assert time.monotonic() < deadline, "the dropped message was not logged"
        time.sleep(0.05)
    assert "dropped" in caplog.text


def test_a_static_attribute_that_does_not_fit_its_type_refuses_no_measure_over_mqtt(
    gateway: tuple[TestClient, int],
) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    group = {
        "apikey": apikey,
        "entity_type": "Sensor",
        "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
        "static_attributes": [{"name": "static_a", "type": "Number", "value": {"v1": 1}}],
    }
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201
    publish(port, f"/json/{apikey}/dev1/attrs", b'{"t": 11}')
    entity = wait_for(client, f"{E}/urn:ngsi-ld:Sensor:dev1", lambda e: "temperature" in e)
    assert entity["temperature"]["value"] == 11 and "static_a" not in entity
