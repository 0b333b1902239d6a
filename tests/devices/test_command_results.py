"""A command's result and status: a device's result is taken only for a command of its own that
waits for one (as the IoT Agents refuse a result for a command the device lacks), and a new
command's status never shows the previous command's info, nor a push's timeout an empty one."""

from __future__ import annotations

import contextlib
import http.server
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.gateway.push import HttpCommandPush
from tests.devices.conftest import FirstMessage, provision_lamp, publish, wait_for

E = "/ngsi-ld/v1/entities"
LAMP = "urn:ngsi-ld:Lamp:lamp1"


def lamp(client: TestClient) -> dict[str, Any]:
    entity: dict[str, Any] = client.get(f"{E}/{LAMP}").json()
    return entity


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/iot/d/commands", b"lamp1@explode|boom"),
        ("/iot/d", b"lamp1@explode|boom"),  # a result posted where measures go
        ("/iot/d/commands", b"push1@ring|spoofed"),  # another device's command
        ("/iot/json/commands", b'{"explode": "boom"}'),
    ],
)
def test_a_result_for_a_command_the_device_lacks_is_refused_and_not_stored(
    client: TestClient, path: str, body: bytes
) -> None:
    provision_lamp(client, "kres", "IoTA-JSON" if "json" in path else "IoTA-UL")
    refused = client.post(f"{path}?k=kres&i=lamp1", content=body)
    assert refused.status_code == 400, refused.text
    assert "is not a command of device 'lamp1'" in refused.json()["detail"]
    entity = lamp(client)
    assert not {"explode_status", "explode_info", "ring_status", "ring_info"} & entity.keys()


def test_a_result_from_a_device_without_commands_is_refused(client: TestClient) -> None:
    body = {"device_id": "meter1", "apikey": "kres", "entity_type": "Meter"}
    assert client.post("/iot/devices", json={"devices": [body]}).status_code == 201
    refused = client.post("/iot/d/commands?k=kres&i=meter1", content=b"meter1@reset|done")
    assert refused.status_code == 400
    assert "reset_status" not in client.get(f"{E}/urn:ngsi-ld:Meter:meter1").json()


def test_a_result_for_a_command_never_sent_is_refused(client: TestClient) -> None:
    provision_lamp(client, "kres")
    refused = client.post("/iot/d/commands?k=kres&i=lamp1", content=b"lamp1@switch|on")
    assert refused.status_code == 400
    assert "waits for no result" in refused.json()["detail"]
    entity = lamp(client)
    assert entity["switch_status"]["value"] == "UNKNOWN" and "switch_info" not in entity


def test_a_result_is_taken_once_for_a_command_sent(client: TestClient) -> None:
    provision_lamp(client, "kres")
    assert client.patch(f"{E}/{LAMP}/attrs/switch", json={"value": "on"}).status_code == 204
    # taken while the command waits to be fetched (PENDING) or fetched (DELIVERED)
    done = client.post("/iot/d/commands?k=kres&i=lamp1", content=b"lamp1@switch|is on")
    assert done.status_code == 200, done.text
    again = client.post("/iot/d/commands?k=kres&i=lamp1", content=b"lamp1@switch|forged")
    assert again.status_code == 400
    entity = lamp(client)
    assert entity["switch_status"]["value"] == "OK" and entity["switch_info"]["value"] == "is on"


def test_an_mqtt_result_for_a_command_the_device_lacks_is_refused_on_the_error_topic(
    gateway: tuple[TestClient, int],
) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    body = {
        "device_id": "bell1",
        "apikey": apikey,
        "entity_type": "Bell",
        "transport": "MQTT",
        "commands": [{"name": "ring", "type": "command"}],
    }
    assert client.post("/iot/devices", json={"devices": [body]}).status_code == 201
    errors = FirstMessage(port, f"/{apikey}/bell1/errors", f"err-{apikey}")
    publish(port, f"/{apikey}/bell1/cmdexe", b"bell1@explode|boom")
    assert b"is not a command" in errors.get(15)
    entity = client.get(f"{E}/urn:ngsi-ld:Bell:bell1").json()
    assert "explode_status" not in entity and "explode_info" not in entity


class _Bell:
    """A device on loopback taking pushed commands: it answers HTTP 500, or holds the request
    until `release` is set (or 10 s) and then answers `bell1@ring|done`."""

    def __init__(self) -> None:
        self.mode = "fail"
        self.release = threading.Event()
        bell = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if bell.mode == "fail":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                bell.release.wait(10)
                answer = b"bell1@ring|done"
                # Dalgu may have given up waiting and closed the connection
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cmd"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bell(client: TestClient) -> Iterator[tuple[TestClient, _Bell]]:
    device = _Bell()
    body = {
        "device_id": "bell1",
        "apikey": "kpush",
        "entity_type": "Bell",
        "transport": "HTTP",
        "endpoint": device.url,
        "commands": [{"name": "ring", "type": "command"}],
    }
    try:
        assert client.post("/iot/devices", json={"devices": [body]}).status_code == 201
        yield client, device
    finally:
        device.close()


BELL = f"{E}/urn:ngsi-ld:Bell:bell1"


def test_a_new_command_does_not_show_the_previous_commands_info(
    bell: tuple[TestClient, _Bell],
) -> None:
    client, device = bell
    assert client.patch(f"{BELL}/attrs/ring", json={"value": "1"}).status_code == 204
    failed = wait_for(client, BELL, lambda e: e["ring_status"]["value"] == "ERROR")
    assert failed["ring_info"]["value"] == "the device answered HTTP 500"
    device.mode = "hang"
    assert client.patch(f"{BELL}/attrs/ring", json={"value": "2"}).status_code == 204
    pending = wait_for(client, BELL, lambda e: e["ring_status"]["value"] == "PENDING")
    assert pending["ring_info"]["value"] == ""
    device.release.set()
    done = wait_for(client, BELL, lambda e: e["ring_status"]["value"] == "OK")
    assert done["ring_info"]["value"] == "done"


def test_a_push_the_device_does_not_answer_in_time_is_an_error_saying_so(
    bell: tuple[TestClient, _Bell],
) -> None:
    client, device = bell
    device.mode = "hang"
    commands = client.app.state.dalgu.devices.commands  # type: ignore[attr-defined]
    push = HttpCommandPush(timeout=0.5)
    commands.sinks["HTTP"] = push
    try:
        assert client.patch(f"{BELL}/attrs/ring", json={"value": ""}).status_code == 204
        failed = wait_for(client, BELL, lambda e: e["ring_status"]["value"] == "ERROR")
        assert failed["ring_info"]["value"] == "the device did not answer within 0.5 s"
    finally:
        device.release.set()
        client.portal.call(push.close)  # type: ignore[attr-defined]


def test_a_commands_status_and_info_carry_the_time_they_changed(client: TestClient) -> None:
    """Outside tester iota-10: as the agents stamp a command's result attributes."""
    entity_id = provision_lamp(client, "kstamp")
    assert client.patch(f"{E}/{entity_id}/attrs/switch", json={"value": "on"}).status_code == 204
    assert client.get("/iot/d?k=kstamp&i=lamp1&getCmd=1").status_code == 200
    answered = client.post("/iot/d/commands?k=kstamp&i=lamp1", content=b"lamp1@switch|done")
    assert answered.status_code == 200, answered.text
    entity = client.get(f"{E}/{entity_id}").json()
    assert entity["switch_status"]["value"] == "OK"
    assert entity["switch_status"]["observedAt"].endswith("Z")
    assert entity["switch_info"]["observedAt"] == entity["switch_status"]["observedAt"]
