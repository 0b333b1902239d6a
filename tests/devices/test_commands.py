"""Commands driven from NGSI-LD: a PATCH of a command attribute reaches the device (MQTT or an
HTTP push) and the device's result comes back as `<cmd>_status` / `<cmd>_info`."""

from __future__ import annotations

import http.server
import queue
import threading
import uuid
from typing import Any

from starlette.testclient import TestClient

from tests.devices.conftest import FirstMessage, publish, wait_for

E = "/ngsi-ld/v1/entities"


def provision_device(client: TestClient, apikey: str, **device: Any) -> str:
    body = {
        "device_id": "bell1",
        "apikey": apikey,
        "entity_type": "Bell",
        "commands": [{"name": "ring", "type": "command"}],
        **device,
    }
    assert client.post("/iot/devices", json={"devices": [body]}).status_code == 201
    return "urn:ngsi-ld:Bell:bell1"


def test_command_over_mqtt_and_its_result(gateway: tuple[TestClient, int]) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    entity_id = provision_device(client, apikey, transport="MQTT")
    entity = client.get(f"{E}/{entity_id}").json()
    assert entity["ring_status"]["value"] == "UNKNOWN"

    device = FirstMessage(port, f"/{apikey}/bell1/cmd", f"bell-{apikey}")
    patched = client.patch(f"{E}/{entity_id}/attrs/ring", json={"value": {"volume": 3}})
    assert patched.status_code == 204
    assert device.get() == b"bell1@ring|volume=3"
    wait_for(client, f"{E}/{entity_id}", lambda e: e["ring_status"]["value"] == "PENDING")
    publish(port, f"/{apikey}/bell1/cmdexe", b"bell1@ring|rang 3 times")
    done = wait_for(client, f"{E}/{entity_id}", lambda e: e["ring_status"]["value"] == "OK")
    assert done["ring_info"]["value"] == "rang 3 times"


def test_an_answer_that_comes_before_the_send_returns_stays_ok(
    gateway: tuple[TestClient, int],
) -> None:
    """A device may answer (and this or another server process record the answer) before the
    publish of its command has returned: the command's PENDING must not overwrite that OK."""
    client, _ = gateway
    apikey = f"k{uuid.uuid4().hex[:10]}"
    entity_id = provision_device(client, apikey, transport="MQTT")
    commands = client.app.state.dalgu.devices.commands  # type: ignore[attr-defined]
    publish_command = commands.sinks["MQTT"]

    async def quick_device(command: Any) -> None:
        await publish_command(command)
        await commands.result(apikey, "bell1", "ring", "rang at once")

    commands.sinks["MQTT"] = quick_device
    patched = client.patch(f"{E}/{entity_id}/attrs/ring", json={"value": {"volume": 1}})
    assert patched.status_code == 204
    wait_for(client, f"{E}/{entity_id}", lambda e: e["ring_status"]["value"] != "UNKNOWN")
    client.portal.call(commands.drain)  # type: ignore[attr-defined]
    done = client.get(f"{E}/{entity_id}").json()
    assert done["ring_status"]["value"] == "OK"
    assert done["ring_info"]["value"] == "rang at once"


class _UltraLightDevice:
    """A device on loopback that executes pushed commands and answers with the result."""

    def __init__(self) -> None:
        commands: queue.Queue[bytes] = queue.Queue()
        self.commands = commands
        headers: queue.Queue[dict[str, str]] = queue.Queue()
        self.headers = headers

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers.put({k.lower(): v for k, v in self.headers.items()})
                commands.put(body)
                device = body.decode().partition("|")[0]
                answer = f"{device}|done".encode()
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
        self.server.shutdown()
        self.server.server_close()


def test_http_push_command_and_unreachable_device(client: TestClient) -> None:
    device = _UltraLightDevice()
    try:
        entity_id = provision_device(client, "kpush", transport="HTTP", endpoint=device.url)
        assert client.patch(f"{E}/{entity_id}/attrs/ring", json={"value": ""}).status_code == 204
        assert device.commands.get(timeout=10) == b"bell1@ring|"
        done = wait_for(client, f"{E}/{entity_id}", lambda e: e["ring_status"]["value"] == "OK")
        assert done["ring_info"]["value"] == "done"
    finally:
        device.close()
    # the device is gone: the command fails and says why
    assert client.patch(f"{E}/{entity_id}/attrs/ring", json={"value": "again"}).status_code == 204
    failed = wait_for(client, f"{E}/{entity_id}", lambda e: e["ring_status"]["value"] == "ERROR")
    assert "did not answer" in failed["ring_info"]["value"]


def test_an_http_push_says_the_devices_service_and_service_path(client: TestClient) -> None:
    device = _UltraLightDevice()
    try:
        body = {
            "device_id": "bell1",
            "entity_type": "Bell",
            "apikey": "kpush",
            "transport": "HTTP",
            "endpoint": device.url,
            "commands": [{"name": "ring", "type": "command"}],
        }
        fiware = {"fiware-service": "smart", "fiware-servicepath": "/gardens"}
        assert client.post("/iot/devices", json={"devices": [body]}, headers=fiware).status_code
        entity = f"{E}/urn:ngsi-ld:Bell:bell1"
        patched = client.patch(
            f"{entity}/attrs/ring", json={"value": ""}, headers={"NGSILD-Tenant": "smart"}
        )
        assert patched.status_code == 204, patched.text
        assert device.commands.get(timeout=10) == b"bell1@ring|"
        headers = device.headers.get(timeout=1)
        assert headers["fiware-service"] == "smart"
        assert headers["fiware-servicepath"] == "/gardens"
        assert headers["content-type"] == "text/plain"
    finally:
        device.close()


def test_commands_reach_autoprovisioned_devices(client: TestClient) -> None:
    device = _UltraLightDevice()
    try:
        group = {
            "apikey": "kauto",
            "entity_type": "Bell",
            "transport": "HTTP",
            "endpoint": device.url,
            "commands": [{"name": "ring", "type": "command"}],
        }
        assert client.post("/iot/services", json={"services": [group]}).status_code == 201
        # a first command makes the tenant's command targets known; later devices join them
        assert client.post("/iot/d?k=kauto&i=b1", content=b"x|1").status_code == 200
        assert (
            client.patch(f"{E}/urn:ngsi-ld:Bell:b1/attrs/ring", json={"value": ""}).status_code
            == 204
        )
        assert device.commands.get(timeout=10) == b"b1@ring|"
        assert client.post("/iot/d?k=kauto&i=b2", content=b"x|1").status_code == 200
        assert (
            client.patch(f"{E}/urn:ngsi-ld:Bell:b2/attrs/ring", json={"value": ""}).status_code
            == 204
        )
        assert device.commands.get(timeout=10) == b"b2@ring|"
    finally:
        device.close()
