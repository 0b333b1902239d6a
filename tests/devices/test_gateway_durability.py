"""What a device publishes at QoS 1 survives the gateway's kill -9 and Mosquitto's restart.

Each test runs a Mosquitto of its own (the machine's binary, on a free port, configured as
production should be: a subscriber's QoS 1 backlog is kept whole), so that it can be stopped
and so that a persistent session left behind bothers no other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.devices.conftest import publish, wait_for
from tests.ports import free_port
from tests.server import kill_server, start_server

E = "/ngsi-ld/v1/entities"


class Mosquitto:
    def __init__(self, folder: Path, port: int) -> None:
        self.port = port
        self.conf = folder / f"mosquitto-{port}.conf"
        self.conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
            "max_queued_messages 0\nmax_inflight_messages 0\npersistence false\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path, free_port())
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@contextlib.contextmanager
def listening(
    settings: Settings, mosquitto: Mosquitto, client_id: str, seconds: float
) -> Iterator[TestClient]:
    """A Dalgu in process whose MQTT southbound has subscribed on `mosquitto` within `seconds`."""
    configured = settings.model_copy(
        update={"mqtt_broker": "external", "mqtt_port": mosquitto.port, "mqtt_client_id": client_id}
    )
    with TestClient(build_app(configured)) as client:
        southbound = client.app.state.dalgu_gateway.southbound  # type: ignore[attr-defined]
        deadline = time.monotonic() + seconds
        while not southbound.ready.is_set():
            assert time.monotonic() < deadline, "the MQTT southbound did not subscribe"
            time.sleep(0.05)
        yield client


@pytest.mark.slow
def test_measures_acknowledged_to_the_broker_survive_kill_9(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """The gateway PUBACKs a measure only once stored: killed mid-stream, it loses none."""
    db, port, north = tmp_path / "dalgu.db", free_port(), free_port()
    environment = {
        "DALGU_MQTT_BROKER": "external",
        "DALGU_MQTT_PORT": str(mosquitto.port),
        "DALGU_MQTT_CLIENT_ID": "dalgu-durable",  # the same session after the restart
        "DALGU_IOT_NORTH_PORT": str(north),
    }
    devices = 400
    server = start_server(db, port, environment=environment)
    api = f"http://127.0.0.1:{port}/ngsi-ld/v1/entities"
    try:
        group = {"apikey": "k-durable", "entity_type": "Sensor"}
        reply = httpx.post(f"http://127.0.0.1:{north}/iot/services", json={"services": [group]})
        assert reply.status_code == 201
        first = "urn:ngsi-ld:Sensor:warmup"
        deadline = time.monotonic() + 20
        while httpx.get(f"{api}/{first}").status_code != 200:  # the southbound subscribed
            assert time.monotonic() < deadline, "the southbound never stored a measure"
            publish(mosquitto.port, "/k-durable/warmup/attrs", b"t|0")
            time.sleep(0.2)

        async def fleet() -> None:
            async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="fleet") as c:
                for n in range(devices):
                    await c.publish(f"/k-durable/d{n}/attrs", f"t|{n}".encode(), qos=1)

        asyncio.run(fleet())  # every measure is the broker's now
        deadline = time.monotonic() + 20
        while httpx.get(f"{api}/urn:ngsi-ld:Sensor:d0").status_code != 200:
            assert time.monotonic() < deadline, "the gateway stored none of the fleet"
            time.sleep(0.01)
    finally:
        kill_server(server)  # kill -9 while the fleet's measures are being stored
    server = start_server(db, port, environment=environment)
    try:
        missing: list[int] = list(range(devices))
        deadline = time.monotonic() + 60
        while missing and time.monotonic() < deadline:
            for n in list(missing):
                entity = httpx.get(f"{api}/urn:ngsi-ld:Sensor:d{n}").json()
                if entity.get("t", {}).get("value") == n:
                    missing.remove(n)
            time.sleep(0.2)
        assert not missing, f"measures lost: {missing[:10]}…"
    finally:
        kill_server(server, signal.SIGTERM)


def test_the_southbound_reconnects_after_mosquitto_restarts(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    """Mosquitto restarting (its sessions gone) needs no Dalgu restart."""
    with listening(settings, mosquitto, "dalgu-mosquitto-restart", 10) as client:
        group = {"apikey": "k-mrestart", "entity_type": "Sensor"}
        assert client.post("/iot/services", json={"services": [group]}).status_code == 201
        publish(mosquitto.port, "/k-mrestart/s1/attrs", b"t|1")
        wait_for(client, f"{E}/urn:ngsi-ld:Sensor:s1", lambda e: "t" in e)

        mosquitto.stop()
        mosquitto.start()
        deadline = time.monotonic() + 20
        while True:
            try:
                publish(mosquitto.port, "/k-mrestart/s1/attrs", b"t|2")
                wait_for(client, f"{E}/urn:ngsi-ld:Sensor:s1", lambda e: e["t"]["value"] == 2, 2)
                break
            except AssertionError:
                assert time.monotonic() < deadline, "the southbound never came back"


def test_the_southbound_survives_an_unexpected_error_in_its_session(
    settings: Settings, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session that fails with anything but a broker error (a bug) is started again, as an
    outage would be: the listener never stops for good while the server runs."""
    from dalgu.gateway import mqttclient

    subscribe = mqttclient.MqttConnection.subscribe
    failures: list[str] = []

    async def failing_once(self: mqttclient.MqttConnection, topics: Any) -> None:
        if not failures:
            failures.append("subscribe")
            raise RuntimeError("a bug in the session")
        await subscribe(self, topics)

    monkeypatch.setattr(mqttclient.MqttConnection, "subscribe", failing_once)
    with listening(settings, mosquitto, "dalgu-session-bug", 20) as client:
        assert failures == ["subscribe"]
        group = {"apikey": "k-sessionbug", "entity_type": "Sensor"}
        assert client.post("/iot/services", json={"services": [group]}).status_code == 201
        publish(mosquitto.port, "/k-sessionbug/s1/attrs", b"t|7")
        wait_for(client, f"{E}/urn:ngsi-ld:Sensor:s1", lambda e: e.get("t", {}).get("value") == 7)
