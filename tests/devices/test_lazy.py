"""Lazy attributes: not stored, read from the device when an NGSI-LD client reads them."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import threading
import time
import uuid
from collections.abc import Iterator

import aiomqtt
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.mqtt_sessions import end_session

E = "/ngsi-ld/v1/entities"


def provision(client: TestClient, apikey: str, **device: object) -> str:
    body = {
        "device_id": "th1",
        "apikey": apikey,
        "entity_type": "Thermometer",
        "attributes": [{"object_id": "h", "name": "humidity", "type": "Number"}],
        "lazy": [{"object_id": "t", "name": "temperature", "type": "Number"}],
        **device,
    }
    assert client.post("/iot/devices", json={"devices": [body]}).status_code == 201
    return "urn:ngsi-ld:Thermometer:th1"


class _MqttDevice:
    """Answers each request on its /cmd topic, on /cmdexe or as a measure on /attrs."""

    def __init__(self, port: int, apikey: str, answer_on: str) -> None:
        self.requests: list[bytes] = []
        self.ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            async with aiomqtt.Client("127.0.0.1", port, identifier=f"th-{apikey}") as c:
                await c.subscribe(f"/{apikey}/th1/cmd", qos=1)
                self.ready.set()
                async for message in c.messages:
                    assert isinstance(message.payload, bytes)
                    self.requests.append(message.payload)
                    if answer_on == "cmdexe":
                        await c.publish(f"/{apikey}/th1/cmdexe", b"th1@t|21.5", qos=1)
                    else:
                        await c.publish(f"/{apikey}/th1/attrs", b"t|22.5", qos=1)

        self._task = self._loop.create_task(serve())

        def run() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                self._loop.run_until_complete(self._task)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def close(self) -> None:
        # leaving the client sends DISCONNECT and waits, without a limit, for the broker to
        # close the socket, which a loaded machine's broker may take seconds to do (or, once
        # in a full run, never did): after 10 s a second cancel ends that wait
        self._loop.call_soon_threadsafe(self._task.cancel)
        self.thread.join(10)
        if self.thread.is_alive():
            self._loop.call_soon_threadsafe(self._task.cancel)
            self.thread.join(20)
        assert not self.thread.is_alive(), "the device's MQTT client did not stop"
        self._loop.close()


@pytest.mark.parametrize("answer_on", ["cmdexe", "attrs"])
def test_lazy_attribute_read_from_mqtt_device(
    gateway: tuple[TestClient, int], answer_on: str
) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    entity_id = provision(client, apikey, transport="MQTT")
    device = _MqttDevice(port, apikey, answer_on)
    try:
        entity = client.get(f"{E}/{entity_id}").json()
        expected = 21.5 if answer_on == "cmdexe" else 22.5
        assert entity["temperature"]["value"] == expected
        assert device.requests == [b"th1@t"]
        # only the attribute asked for: no request when it is not among them
        assert client.post(f"/iot/d?k={apikey}&i=th1", content=b"h|40").status_code == 200
        only_h = client.get(f"{E}/{entity_id}", params={"attrs": "humidity"}).json()
        assert "temperature" not in only_h and only_h["humidity"]["value"] == 40
        assert len(device.requests) == 1
        picked = client.get(f"{E}/{entity_id}", params={"attrs": "temperature"}).json()
        assert picked["temperature"]["value"] == expected and "humidity" not in picked
    finally:
        device.close()
    # never stored: its history has the humidity, not the temperature
    history = client.get(
        f"/ngsi-ld/v1/temporal/entities/{entity_id}", params={"timeproperty": "modifiedAt"}
    ).json()
    assert "humidity" in history and "temperature" not in history


@pytest.fixture
def impatient(settings: Settings) -> Iterator[TestClient]:
    """A server that waits half a second for lazy attributes, with its MQTT on Mosquitto."""
    client_id = f"dalgu-test-{uuid.uuid4().hex[:8]}"
    configured = settings.model_copy(
        update={
            "device_lazy_timeout": 0.5,
            "mqtt_broker": "external",
            "mqtt_port": 1883,
            "mqtt_client_id": client_id,
        }
    )
    try:
        with TestClient(build_app(configured)) as client:
            southbound = client.app.state.dalgu_gateway.southbound  # type: ignore[attr-defined]
            deadline = time.monotonic() + 10
            while not southbound.ready.is_set() and time.monotonic() < deadline:
                time.sleep(0.05)
            yield client
    finally:
        end_session(1883, client_id)  # not left on the shared Mosquitto


def test_silent_device_answers_without_the_attribute(impatient: TestClient) -> None:
    client = impatient
    apikey = f"k{uuid.uuid4().hex[:10]}"
    entity_id = provision(client, apikey, transport="MQTT")
    started = time.monotonic()
    response = client.get(f"{E}/{entity_id}")
    took = time.monotonic() - started
    assert response.status_code == 200
    assert "temperature" not in response.json()
    assert 0.4 < took < 3
    # asked only for the lazy attribute it did not get: nothing of what was asked exists
    assert client.get(f"{E}/{entity_id}", params={"attrs": "temperature"}).status_code == 404


class _HttpDevice:
    def __init__(self) -> None:
        received: list[bytes] = []
        self.received = received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append(body)
                answer = b'{"t": 19.25}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/lazy"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_lazy_attribute_read_from_http_device_and_polling_device(client: TestClient) -> None:
    device = _HttpDevice()
    try:
        entity_id = provision(
            client, "klazyhttp", transport="HTTP", endpoint=device.url, protocol="IoTA-JSON"
        )
        entity = client.get(f"{E}/{entity_id}").json()
        assert entity["temperature"] == {"type": "Property", "value": 19.25}
        assert device.received == [b'{"t":""}']
    finally:
        device.close()
    # the device is gone: answered without it, at once (the push fails)
    started = time.monotonic()
    assert "temperature" not in client.get(f"{E}/{entity_id}").json()
    assert time.monotonic() - started < 5
    # a polling device (no endpoint) cannot be asked: answered at once without it
    body = {
        "device_id": "th2",
        "apikey": "klazypoll",
        "entity_type": "Thermometer",
        "transport": "HTTP",
        "lazy": [{"object_id": "t", "name": "temperature", "type": "Number"}],
    }
    assert client.post("/iot/devices", json={"devices": [body]}).status_code == 201
    polled = client.get(f"{E}/urn:ngsi-ld:Thermometer:th2")
    assert polled.status_code == 200 and "temperature" not in polled.json()
