"""JSON devices get JSON commands and lazy attribute requests without a `protocol`, as
iotagent-json, which needs none, sends every command as JSON: a device of an `/iot/json` config
group, or one autoprovisioned from JSON measures (outside tester iota-11)."""

from __future__ import annotations

import http.server
import queue
import threading
import uuid
from typing import Any

import orjson
from starlette.testclient import TestClient

from tests.devices.conftest import FirstMessage, publish, wait_for

E = "/ngsi-ld/v1/entities"


class _JsonDevice:
    """A device on loopback that takes pushed commands and answers them in JSON."""

    def __init__(self, answer: dict[str, Any]) -> None:
        received: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.received = received
        reply = orjson.dumps(answer)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.put((self.headers.get("content-type", ""), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jcmd"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _json_group(client: TestClient, apikey: str, resource: str = "/iot/json", **more: Any) -> None:
    group = {"apikey": apikey, "resource": resource, "entity_type": "J10", **more}
    assert client.post("/iot/services", json={"services": [group]}).status_code == 201


def test_a_device_of_a_json_group_without_protocol_gets_json_commands(
    client: TestClient,
) -> None:
    device = _JsonDevice({"set": "done"})
    try:
        _json_group(client, "kjs10")
        body = {
            "device_id": "jh1",
            "entity_type": "J10",
            "apikey": "kjs10",
            "transport": "HTTP",
            "endpoint": device.url,
            "commands": [{"name": "set", "type": "command"}],
        }
        assert client.post("/iot/devices", json={"devices": [body]}).status_code == 201
        entity = f"{E}/urn:ngsi-ld:J10:jh1"
        assert client.patch(f"{entity}/attrs/set", json={"value": {"x": 1}}).status_code == 204
        media, sent = device.received.get(timeout=10)
        assert media == "application/json"
        assert orjson.loads(sent) == {"set": {"x": 1}}
        done = wait_for(client, entity, lambda e: e["set_status"]["value"] == "OK")
        assert done["set_info"]["value"] == "done"
    finally:
        device.close()


def test_a_device_autoprovisioned_from_json_measures_gets_json_commands(
    client: TestClient,
) -> None:
    device = _JsonDevice({"set": "ok"})
    try:  # a group serving both payloads: the device's first message tells
        _json_group(
            client,
            "kjsboth",
            resource="",
            transport="HTTP",
            endpoint=device.url,
            commands=[{"name": "set", "type": "command"}],
        )
        sent = client.post("/iot/json?k=kjsboth&i=q1", json={"t": 1})
        assert sent.status_code == 200, sent.text
        shown = client.get("/iot/devices/q1").json()
        assert shown["protocol"] == "IoTA-JSON"
        entity = f"{E}/urn:ngsi-ld:J10:q1"
        assert client.patch(f"{entity}/attrs/set", json={"value": {"x": 2}}).status_code == 204
        media, body = device.received.get(timeout=10)
        assert (media, orjson.loads(body)) == ("application/json", {"set": {"x": 2}})
    finally:
        device.close()


def test_a_device_autoprovisioned_from_ultralight_measures_keeps_ultralight_commands(
    client: TestClient,
) -> None:
    _json_group(client, "kulboth", resource="", commands=[{"name": "set", "type": "command"}])
    assert client.post("/iot/d?k=kulboth&i=u1", content=b"t|1").status_code == 200
    assert client.get("/iot/devices/u1").json()["protocol"] == "IoTA-UL"


def test_a_json_device_over_mqtt_gets_json_commands(gateway: tuple[TestClient, int]) -> None:
    client, port = gateway
    apikey = f"kj{uuid.uuid4().hex[:8]}"
    _json_group(client, apikey, commands=[{"name": "set", "type": "command"}])
    publish(port, f"/json/{apikey}/q1/attrs", b'{"t": 1}')
    entity = f"{E}/urn:ngsi-ld:J10:q1"
    wait_for(client, entity, lambda e: "set_status" in e)
    listener = FirstMessage(port, f"/{apikey}/q1/cmd", f"q1-{apikey}")
    assert client.patch(f"{entity}/attrs/set", json={"value": {"x": 2}}).status_code == 204
    assert orjson.loads(listener.get()) == {"set": {"x": 2}}


def test_a_lazy_attribute_of_a_json_device_is_asked_in_json(client: TestClient) -> None:
    device = _JsonDevice({"t": 21.5})
    try:
        _json_group(client, "kjslazy")
        body = {
            "device_id": "jl1",
            "entity_type": "J10",
            "apikey": "kjslazy",
            "transport": "HTTP",
            "endpoint": device.url,
            "lazy": [{"object_id": "t", "name": "temp", "type": "Number"}],
        }
        assert client.post("/iot/devices", json={"devices": [body]}).status_code == 201
        entity = client.get(f"{E}/urn:ngsi-ld:J10:jl1").json()
        media, asked = device.received.get(timeout=10)
        assert (media, orjson.loads(asked)) == ("application/json", {"t": ""})
        assert entity["temp"]["value"] == 21.5
    finally:
        device.close()
