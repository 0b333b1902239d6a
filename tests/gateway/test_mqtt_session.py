"""A server with two workers on the machine's Mosquitto and PostgreSQL: one MQTT session, kept
across restarts, consumed by one worker at a time, so no device message is lost or reordered.

Each test uses a client id and an API key of its own on the shared broker, and ends its
persistent session when done.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import psutil
import pytest

from dalgu.gateway.mqttclient import MqttConnection
from dalgu.gateway.mqttlease import lease_name
from tests.conftest import fresh_database
from tests.ports import free_port
from tests.server import kill_server, start_server

BROKER = ("127.0.0.1", 1883)
TYPE = "SeqSensor"


class TwoWorkers:
    """`dalgu serve` with two workers, MQTT through Mosquitto, on a PostgreSQL database."""

    def __init__(self, tmp_path: Path, dsn: str) -> None:
        self.tmp_path, self.dsn = tmp_path, dsn
        self.port = free_port()
        self.client_id = f"dalgu-test-{uuid.uuid4().hex[:8]}"
        self.apikey = f"k{uuid.uuid4().hex[:10]}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        environment = {
            "DALGU_WORKERS": "2",
            "DALGU_MQTT_BROKER": "external",
            "DALGU_MQTT_PORT": str(BROKER[1]),
            "DALGU_MQTT_CLIENT_ID": self.client_id,
        }
        self.process = start_server(
            self.tmp_path / "unused.db", self.port, postgres_dsn=self.dsn, environment=environment
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            kill_server(self.process, sig)
            self.process = None

    def consumer(self) -> psutil.Process:
        """The worker holding the MQTT session's lease (its abstract socket bound)."""
        assert self.process is not None
        name = lease_name(*BROKER, self.client_id)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                try:
                    sockets = child.net_connections(kind="unix")
                    if any(name in str(c.laddr) for c in sockets):
                        return child
                except psutil.NoSuchProcess:
                    continue
            time.sleep(0.1)
        raise AssertionError("no worker holds the MQTT session")

    def history(self, device: str) -> list[Any]:
        """The device's counter readings, oldest first."""
        url = f"{self.api}/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:{TYPE}:{device}"
        params = {"attrs": "c", "options": "temporalValues", "lastN": "1000"}
        response = httpx.get(url, params=params, timeout=10)
        if response.status_code == 404:
            return []
        assert response.status_code in (200, 206), response.text
        values = response.json().get("c", {}).get("values", [])
        return [value for value, _ in sorted(values, key=lambda pair: pair[1])]

    def current(self, device: str) -> Any:
        url = f"{self.api}/ngsi-ld/v1/entities/urn:ngsi-ld:{TYPE}:{device}"
        return httpx.get(url, timeout=10).json()["c"]["value"]

    def wait_for(self, device: str, count: int, seconds: float = 60) -> list[Any]:
        deadline = time.monotonic() + seconds
        values = self.history(device)
        while len(values) < count and time.monotonic() < deadline:
            time.sleep(0.3)
            values = self.history(device)
        return values


def publish(device: str, apikey: str, values: range) -> None:
    """A device sends `{"c": n}` for each value, in order, at QoS 1."""

    async def send() -> None:
        async with aiomqtt.Client(*BROKER, identifier=f"dev-{uuid.uuid4().hex[:8]}") as client:
            for value in values:
                await client.publish(f"/{apikey}/{device}/attrs", b'{"c": %d}' % value, qos=1)

    asyncio.run(send())


async def forget(client_id: str) -> None:
    connection = await MqttConnection.open(*BROKER, client_id, clean_session=True)
    await connection.close()


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TwoWorkers]:
    with fresh_database(request) as name:
        running = TwoWorkers(tmp_path, f"postgresql://postgres@127.0.0.1:5432/{name}")
        running.start()
        try:
            group = {
                "apikey": running.apikey,
                "entity_type": TYPE,
                "resource": "/iot/d",
                "attributes": [{"object_id": "c", "name": "c", "type": "Number"}],
            }
            answer = httpx.post(f"{running.api}/iot/services", json={"services": [group]})
            assert answer.status_code == 201, answer.text
            # the first start creates the session: a probe stored means it is subscribed
            deadline = time.monotonic() + 30
            while not running.history("probe"):
                assert time.monotonic() < deadline, "the MQTT southbound never subscribed"
                publish("probe", running.apikey, range(1))
                time.sleep(0.5)
            yield running
        finally:
            running.stop(signal.SIGKILL)
            asyncio.run(forget(running.client_id))


def test_a_devices_sequential_readings_end_on_the_last_with_history_in_order(
    server: TwoWorkers,
) -> None:
    devices = [f"ord-{n}" for n in range(3)]
    for device in devices:
        publish(device, server.apikey, range(1, 101))
    for device in devices:
        assert server.wait_for(device, 100) == list(range(1, 101))
        assert server.current(device) == 100


def test_messages_sent_while_the_server_is_stopped_arrive_after_its_restart(
    server: TwoWorkers,
) -> None:
    server.stop(signal.SIGTERM)
    publish("down", server.apikey, range(1, 51))  # queued in the server's persistent session
    server.start()
    assert server.wait_for("down", 50) == list(range(1, 51))


def test_no_message_is_lost_when_the_consuming_worker_is_killed(server: TwoWorkers) -> None:
    total = 600
    consumer = server.consumer()
    sender = asyncio.new_event_loop()
    try:
        first = sender.run_in_executor(None, publish, "kill", server.apikey, range(1, total + 1))
        while len(server.history("kill")) < 50:  # the consumer is storing
            time.sleep(0.05)
        consumer.send_signal(signal.SIGKILL)
        sender.run_until_complete(first)
    finally:
        sender.close()
    values = server.wait_for("kill", total, seconds=90)
    assert sorted(set(values)) == list(range(1, total + 1))
    assert server.current("kill") == total
    assert server.consumer().pid != consumer.pid  # the other worker, or the respawned one
