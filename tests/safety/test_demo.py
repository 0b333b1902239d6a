"""`dalgu demo safety`, run for real: a server, simulated cars over MQTT, an injected emergency,
and the alert printed from the subscription's notification (each store, each broker kind)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dalgu.settings import Settings
from tests.devices.conftest import MOSQUITTO
from tests.ports import TRIES, free_port


@pytest.mark.slow
def test_the_demonstration_injects_events_and_prints_the_alerts(
    settings: Settings, tmp_path: Path
) -> None:
    embedded = settings.store == "sqlite"  # one run per broker kind
    for _ in range(TRIES):
        done = _run_demo(settings, tmp_path, embedded)
        # a port picked free may be taken before the demo binds it (a parallel test worker):
        # Dalgu logs it and serves without it; pick the ports again
        if not re.search("could not listen on|Address already in use", done.stdout + done.stderr):
            break
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    # the demonstration's check of the broker is a client's connection, not a bare socket
    # that the embedded broker logged as an error on every start
    assert "No data to decode" not in done.stderr
    assert "/ngsi-ld/v1/entities?type=Alert" in out
    assert re.search(r"INJECTED cardiac/asystole in demo\w+-001", out)
    assert re.search(r"INJECTED hypoxaemia/desaturation in demo\w+-002", out)
    alerts = re.findall(r"ALERT (\w+)/[\w-]+ \w+ .*from urn:ngsi-ld:Vehicle:(demo\w+-\d+)", out)
    # the collapse (cardiac, or the still wheel that follows) and the desaturation
    assert {vehicle[-3:] for _, vehicle in alerts} == {"001", "002"}, out
    assert all(kind in ("cardiac", "incapacitation", "hypoxaemia") for kind, _ in alerts)
    # each car's driver, named by its Vehicle entity, rides on its alerts
    assert re.search(r"from urn:ngsi-ld:Vehicle:demo\w+-001 driven by urn:ngsi-ld:Person:", out)


def _run_demo(
    settings: Settings, tmp_path: Path, embedded: bool
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DALGU_STORE": settings.store,
        "DALGU_IOT_NORTH_PORT": str(free_port()),
        "DALGU_IOT_SOUTH_PORT": "0",
        "DALGU_COAP_PORT": "0",
        "COLUMNS": "400",  # one line per alert
    }
    if settings.postgres_dsn:
        env["DALGU_POSTGRES_DSN"] = settings.postgres_dsn
    command = [
        sys.executable,
        "-m",
        "dalgu",
        "demo",
        "safety",
        "--vehicles",
        "2",
        "--duration",
        "660",
        "--speed",  # the live minute in 7.5 s: the alerts are timed by the drive's clock
        "8",
        "--port",
        str(free_port()),
        "--sqlite-path",
        str(tmp_path / f"demo-{free_port()}.db"),
        "--broker",
        "embedded" if embedded else "mosquitto",
        "--mqtt-port",
        str(free_port() if embedded else MOSQUITTO[1]),
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_a_port_the_demonstration_needs_is_taken_said_in_a_line(tmp_path: Path) -> None:
    """Another program (a demonstration already running, say) holds the IoT Agent port: the
    demonstration refuses to start, naming the port and its setting, exits 1 without a
    traceback, and leaves the database it would have started afresh alone."""
    database = tmp_path / "demo.db"
    database.write_bytes(b"a running demonstration's data")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        taken = holder.getsockname()[1]
        env = {
            **os.environ,
            "DALGU_IOT_NORTH_PORT": str(taken),
            "DALGU_IOT_SOUTH_PORT": "0",
            "DALGU_COAP_PORT": "0",
            "COLUMNS": "400",
        }
        command = [
            *(sys.executable, "-m", "dalgu", "demo", "safety", "--vehicles", "1"),
            *("--port", str(free_port()), "--mqtt-port", str(free_port())),
            *("--sqlite-path", str(database)),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    said = " ".join((done.stdout + done.stderr).split())
    assert f"cannot listen on 127.0.0.1:{taken}" in said, said
    assert "DALGU_IOT_NORTH_PORT" in said
    assert "Traceback" not in said
    assert database.read_bytes() == b"a running demonstration's data"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_demonstration_stopped_by_a_signal_stops_its_server(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """`kill` (or `timeout`, a service manager) stopped the demonstration and left the server
    it started serving on every port, in a session of its own; `kill -9` likewise."""
    api, mqtt = free_port(), free_port()
    env = {
        **os.environ,
        "DALGU_IOT_NORTH_PORT": str(free_port()),
        "DALGU_IOT_SOUTH_PORT": "0",
        "DALGU_COAP_PORT": "0",
    }
    command = [
        *(sys.executable, "-m", "dalgu", "demo", "safety", "--vehicles", "1"),
        *("--port", str(api), "--mqtt-port", str(mqtt)),
        *("--sqlite-path", str(tmp_path / "demo.db")),
    ]
    demo = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not _listening(api):
            assert demo.poll() is None, "the demonstration ended before its server listened"
            assert time.monotonic() < deadline, "the demonstration's server never listened"
            time.sleep(0.2)
        demo.send_signal(sig)
        demo.wait(30)
        deadline = time.monotonic() + 30
        while _listening(api) or _listening(mqtt):
            assert time.monotonic() < deadline, "the server outlived the demonstration"
            time.sleep(0.2)
    finally:
        demo.kill()
        demo.wait()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0
