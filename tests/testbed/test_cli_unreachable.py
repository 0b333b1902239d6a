"""Client commands facing a Dalgu that is not there: one clear line and a non-zero exit, never
a traceback; a run in which every message failed exits non-zero."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from pathlib import Path

import orjson
from typer.testing import CliRunner, Result

from dalgu.cli.app import app as cli
from tests.ports import free_port


def dalgu(command: str) -> Result:
    return CliRunner().invoke(cli, command.split(), env={"COLUMNS": "300"})


def said(result: Result) -> str:
    """The output as one line: the console may have been made at another width (another test
    of the same worker imported it first) and wrap the message."""
    return " ".join(result.output.split())


def test_simulate_says_in_a_line_that_the_provisioning_api_cannot_be_reached() -> None:
    port = free_port()
    result = dalgu(
        "simulate --profile air-quality --devices 1 --rate 1 --duration 1 --transport http "
        f"--http-port {port} --north-port {port}"
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # not an uncaught error's traceback
    assert f"cannot reach Dalgu's provisioning API at http://127.0.0.1:{port}" in said(result)


def test_simulate_over_mqtt_says_the_broker_cannot_be_reached() -> None:
    result = dalgu(
        "simulate --profile air-quality --devices 1 --duration 1 --transport mqtt "
        f"--mqtt-port {free_port()} --no-provision"
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "cannot reach the MQTT broker" in said(result)


def test_testbed_run_says_in_a_line_that_the_server_cannot_be_reached() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = dalgu(f"testbed run --profile air-quality --apikey x --url {url} --duration 2s")
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"cannot reach Dalgu's provisioning API at {url}" in said(result)


def test_simulate_exits_non_zero_when_every_message_failed() -> None:
    result = dalgu(
        "simulate --profile air-quality --devices 1 --rate 4 --duration 0.5 --transport http "
        f"--no-provision --http-port {free_port()}"
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)


def test_simulate_over_coap_to_no_server_exits_non_zero() -> None:
    result = dalgu(
        "simulate --profile air-quality --devices 1 --rate 4 --duration 0.5 --transport coap "
        f"--no-provision --coap-port {free_port(socket.SOCK_DGRAM)}"
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)


def test_replay_exits_non_zero_when_every_message_failed_or_no_broker_answers(
    tmp_path: Path,
) -> None:
    recording = tmp_path / "drive.jsonl"
    lines = [
        {"time": "2026-11-25T08:00:00Z", "device": "aq-1", "measures": {"t": 12.5}},
        {"time": "2026-11-25T08:00:01Z", "device": "aq-1", "measures": {"t": 12.7}},
    ]
    recording.write_bytes(b"\n".join(orjson.dumps(line) for line in lines))
    refused = dalgu(
        f"replay {recording} --apikey k --transport http --speed 100 --http-port {free_port()}"
    )
    assert refused.exit_code == 1, refused.output
    assert "0 sent, 2 failed" in said(refused)
    no_broker = dalgu(f"replay {recording} --apikey k --mqtt-port {free_port()}")
    assert no_broker.exit_code == 2, no_broker.output
    assert isinstance(no_broker.exception, SystemExit)
    assert "cannot reach the MQTT broker" in no_broker.output


def test_testbed_run_says_in_a_line_that_its_run_is_gone() -> None:
    """The run removed while it recorded (its sandbox reset or deleted): a traceback ending
    in KeyError with exit status 1, which a script reads as the device failing (an outside
    test, round 6). A server answering as Dalgu does then: the start, then 404."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._answer(201, {"id": "run-1"})

        def do_GET(self) -> None:
            self._answer(404, {"type": "ResourceNotFound", "detail": "no run run-1 here"})

        def _answer(self, status: int, body: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = dalgu(f"testbed run --profile air-quality --apikey x --url {url} --duration 2s")
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "the run is gone: no run run-1 here" in said(result)
