"""What the MQTT southbound refuses, and how loudly: JSON nested deeper than the HTTP API takes
is refused on the error topic; another deployment's API key is only a debug line."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest
from starlette.testclient import TestClient

from dalgu.errors import PayloadError
from dalgu.gateway.mqtt import MeasureTopic, measure_groups
from dalgu.settings import Settings
from tests.conftest import IN_PROCESS
from tests.mqtt_sessions import end_session
from tests.ports import free_port, serving

E = "/ngsi-ld/v1/entities"
MOSQUITTO_PORT = 1883  # the machine's Mosquitto


def nested(levels: int) -> bytes:
    """A JSON measure payload `{"t": [[...[1]...]]}` that nests `levels` deep."""
    lists = levels - 2  # the object and the innermost number are two levels
    return b'{"t": ' + b"[" * lists + b"1" + b"]" * lists + b"}"


def test_a_payload_as_deep_as_the_http_limit_is_read_one_deeper_is_refused() -> None:
    topic = MeasureTopic("/", "sniff", "k", "d", None)
    assert measure_groups(topic, nested(64), 64)
    with pytest.raises(PayloadError, match="deeper than 64 levels"):
        measure_groups(topic, nested(65), 64)
    single = MeasureTopic("/json/", "json", "k", "d", "t")
    with pytest.raises(PayloadError, match="deeper than 8 levels"):
        measure_groups(single, b"[" * 9 + b"]" * 9, 8)


def test_an_integer_beyond_64_bits_is_refused_not_rounded() -> None:
    """orjson reads 2^64 as the float 1.8446744073709552e+19: the measure would be stored
    changed. The message is refused instead (the error topic names the number); 2^64 - 1
    is read exactly, on every topic form and in a single measure."""
    topic = MeasureTopic("/", "sniff", "k", "d", None)
    [(values, _)] = measure_groups(topic, b'{"n": 18446744073709551615}')
    assert values == {"n": 2**64 - 1}
    with pytest.raises(PayloadError, match="18446744073709551616 is beyond 64 bits"):
        measure_groups(topic, b'{"n": 18446744073709551616}')
    single = MeasureTopic("/json/", "json", "k", "d", "n")
    with pytest.raises(PayloadError, match="beyond 64 bits"):
        measure_groups(single, b"-9223372036854775809")


@pytest.fixture
def dalgu(tmp_path: Path) -> Iterator[tuple[TestClient, int]]:
    settings = Settings.load(sqlite_path=tmp_path / "dalgu.db", mqtt_broker="embedded")
    settings = settings.model_copy(update=IN_PROCESS)

    def ports() -> dict[str, Any]:
        return {"mqtt_port": free_port(), "mqtt_client_id": f"dalgu-test-{uuid.uuid4().hex[:8]}"}

    with serving(settings, ports) as (client, configured):
        assert configured.mqtt_port is not None
        yield client, configured.mqtt_port


def provision(client: TestClient, apikey: str) -> None:
    group = {"apikey": apikey, "entity_type": "Sensor"}
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201


def stored(client: TestClient, device: str, check: Any) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = client.get(f"{E}/urn:ngsi-ld:Sensor:{device}")
        if answer.status_code == 200 and check(answer.json()):
            return
        time.sleep(0.05)
    raise AssertionError(f"{device} never stored as expected")


def test_a_payload_nested_too_deep_is_refused_on_the_error_topic(
    dalgu: tuple[TestClient, int],
) -> None:
    client, port = dalgu
    apikey = f"k{uuid.uuid4().hex[:10]}"
    provision(client, apikey)

    async def exchange() -> dict[str, Any]:
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"dev-{uuid.uuid4().hex[:6]}") as c:
            await c.subscribe(f"/{apikey}/deep/errors", qos=1)
            await c.publish(f"/{apikey}/deep/attrs", nested(100), qos=1)
            async with asyncio.timeout(10):
                async for message in c.messages:
                    assert isinstance(message.payload, bytes)
                    problem: dict[str, Any] = orjson.loads(message.payload)
                    return problem
        raise AssertionError("no error message")

    problem = asyncio.run(exchange())
    assert problem["type"].endswith("BadRequestData")
    assert "nests deeper than 64 levels" in problem["detail"]
    assert client.get(f"{E}/urn:ngsi-ld:Sensor:deep").status_code == 404


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[TestClient, int]]:
    """A Dalgu on the machine's Mosquitto, a broker other deployments may share."""
    settings = Settings.load(sqlite_path=tmp_path / "dalgu.db", mqtt_broker="external")
    settings = settings.model_copy(update=IN_PROCESS)
    client_ids: list[str] = []

    def ports() -> dict[str, Any]:
        client_ids.append(f"dalgu-test-{uuid.uuid4().hex[:8]}")
        return {"mqtt_port": MOSQUITTO_PORT, "mqtt_client_id": client_ids[-1]}

    try:
        with serving(settings, ports) as (client, _):
            yield client, MOSQUITTO_PORT
    finally:
        for client_id in client_ids:
            end_session(MOSQUITTO_PORT, client_id)


def _send_theirs_then_ours(client: TestClient, port: int, theirs: str) -> None:
    ours = f"k{uuid.uuid4().hex[:10]}"
    provision(client, ours)

    async def send() -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"dev-{uuid.uuid4().hex[:6]}") as c:
            await c.publish(f"/{theirs}/dev/attrs", b"t|1", qos=1)
            await c.publish(f"/{ours}/dev/attrs", b"t|2", qos=1)  # handled after theirs

    asyncio.run(send())
    stored(client, "dev", lambda e: e.get("t", {}).get("value") == 2)


def test_another_deployments_api_key_is_logged_at_debug_only_on_a_shared_broker(
    shared: tuple[TestClient, int], caplog: pytest.LogCaptureFixture
) -> None:
    client, port = shared
    theirs = f"k{uuid.uuid4().hex[:10]}"
    caplog.set_level(logging.DEBUG)
    _send_theirs_then_ours(client, port, theirs)
    about_theirs = [r for r in caplog.records if theirs in r.getMessage()]
    assert about_theirs, "the foreign key's message was not logged at all"
    assert all(r.levelno == logging.DEBUG for r in about_theirs)


def test_an_unknown_api_key_is_a_warning_on_the_embedded_broker(
    dalgu: tuple[TestClient, int], caplog: pytest.LogCaptureFixture
) -> None:
    """No other deployment publishes on Dalgu's own broker: the device's key is wrong."""
    client, port = dalgu
    theirs = f"k{uuid.uuid4().hex[:10]}"
    caplog.set_level(logging.DEBUG)
    _send_theirs_then_ours(client, port, theirs)
    about_theirs = [
        r for r in caplog.records if r.name == "dalgu.gateway.mqtt" and theirs in r.getMessage()
    ]
    assert [r.levelno for r in about_theirs] == [logging.WARNING]
    assert "no config group" in about_theirs[0].getMessage()


def test_another_deployments_command_results_are_logged_at_debug_only_on_a_shared_broker(
    shared: tuple[TestClient, int], caplog: pytest.LogCaptureFixture
) -> None:
    """A command round trip of another deployment on a city broker was a warning in every
    other Dalgu's log (an outside soak test: 12 in one run), its measures a debug line."""
    client, port = shared
    theirs = f"k{uuid.uuid4().hex[:10]}"
    ours = f"k{uuid.uuid4().hex[:10]}"
    provision(client, ours)
    caplog.set_level(logging.DEBUG)

    async def send() -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier=f"dev-{uuid.uuid4().hex[:6]}") as c:
            await c.publish(f"/{theirs}/bell1/cmdexe", b'{"ring": "OK"}', qos=1)
            await c.publish(f"/{ours}/dev/attrs", b"t|2", qos=1)  # handled after theirs

    asyncio.run(send())
    stored(client, "dev", lambda e: e.get("t", {}).get("value") == 2)
    about_theirs = [r for r in caplog.records if theirs in r.getMessage()]
    assert about_theirs, "the foreign key's result was not logged at all"
    assert all(r.levelno == logging.DEBUG for r in about_theirs)
    assert not [r for r in caplog.records if "unknown device" in r.getMessage()]
