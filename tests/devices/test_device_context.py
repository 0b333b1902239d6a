"""The gateway writes with the @context it is given (`device_context`, the IoT Agents'
IOTA_JSON_LD_CONTEXT): devices provisioned with the FIWARE tutorials' short names land under
the tutorial context's IRIs, and read back with that context by their short names."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings

E = "/ngsi-ld/v1/entities"
SAREF = "https://w3id.org/saref#temperature"
SENSOR = "https://uri.fiware.org/ns/dataModels#TemperatureSensor"
CONTEXT = {"@context": {"temperature": SAREF, "TemperatureSensor": SENSOR}}


class _Context(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/user-context.jsonld":
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(CONTEXT).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/ld+json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def context_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/user-context.jsonld"
    server.shutdown()
    server.server_close()


def test_measures_are_written_with_the_device_context(settings: Settings, context_url: str) -> None:
    configured = settings.model_copy(update={"device_context": context_url})
    with TestClient(build_app(configured)) as client:
        group = {
            "apikey": "k-ctx",
            "resource": "/iot/json",
            "entity_type": "TemperatureSensor",
            "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
        }
        provisioned = client.post(
            "/iot/services", json={"services": [group]}, headers={"fiware-service": "openiot"}
        )
        assert provisioned.status_code == 201, provisioned.text
        sent = client.post("/iot/json?k=k-ctx&i=sensor1", content=b'{"t": 21.5}')
        assert sent.status_code == 200, sent.text
        tenant = {"NGSILD-Tenant": "openiot"}
        link = f'<{context_url}>; rel="http://www.w3.org/ns/json-ld#context"'
        mine = client.get(
            E, params={"type": "TemperatureSensor"}, headers={**tenant, "Link": link}
        ).json()
        assert [(e["type"], e["temperature"]["value"]) for e in mine] == [
            ("TemperatureSensor", 21.5)
        ]
        # without that context, the IRIs it gave
        plain = client.get(E, params={"type": SENSOR}, headers=tenant).json()
        assert [e[SAREF]["value"] for e in plain] == [21.5]


def test_a_device_context_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    """`dalgu serve` migrates first in a child (`dalgu migrate`): a device_context that
    cannot be read stops it there, in one line, before any worker starts."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DALGU_SQLITE_PATH": str(tmp_path / "d.db"),
        "DALGU_DEVICE_CONTEXT": "http://127.0.0.1:9/missing.jsonld",
    }
    ran = subprocess.run(
        [sys.executable, "-m", "dalgu", "migrate"], env=env, capture_output=True, text=True
    )
    assert ran.returncode == 1
    said = (ran.stdout + ran.stderr).strip()
    assert "device_context" in said and "missing.jsonld" in said
    assert "Traceback" not in said
