"""`dalgu serve` on a port another server listens on refuses to start, in one line. granian
listens with SO_REUSEPORT: without this check a second Dalgu started by mistake shared the
port with the first, each answering part of the requests from its own database (a resource
just created read back 404 on every other connection)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ports import free_port
from tests.server import kill_server, server_environment, start_server


def _dalgu_serve(
    db: Path, port: int, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "dalgu", "serve"],
        env=server_environment(db, port, environment=environment),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # it started: stop it and its worker
        process.communicate()
        raise AssertionError("a second server started on a port in use") from None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_a_port_a_reuseport_listener_holds_is_refused(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as granian listens
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        done = _dalgu_serve(tmp_path / "second.db", port)
    finally:
        holder.close()
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "second.db").exists()  # nothing was started, not even migrated


@pytest.mark.slow
def test_a_second_dalgu_on_the_same_port_is_refused(tmp_path: Path) -> None:
    port = free_port()
    first = start_server(tmp_path / "first.db", port)
    try:
        done = _dalgu_serve(tmp_path / "second.db", port)
        assert done.returncode == 1
        assert "already in use" in done.stderr.lower()
    finally:
        kill_server(first)


@pytest.mark.slow
def test_a_second_dalgu_on_the_first_ones_gateway_ports_is_refused(tmp_path: Path) -> None:
    """The gateway's ports are shared by a server's workers (SO_REUSEPORT): a second Dalgu on
    another API port but the first one's provisioning, southbound or CoAP port started and
    took part of its devices' messages and provisioning into its own database."""
    north, south, coap = free_port(), free_port(), free_port(socket.SOCK_DGRAM)
    gateway = {
        "DALGU_IOT_NORTH_PORT": str(north),
        "DALGU_IOT_SOUTH_PORT": str(south),
        "DALGU_COAP_PORT": str(coap),
    }
    first = start_server(tmp_path / "first.db", free_port(), environment=gateway)
    try:
        for setting, port in gateway.items():
            alone = {**{name: "0" for name in gateway}, setting: port}
            done = _dalgu_serve(tmp_path / "second.db", free_port(), alone)
            assert done.returncode == 1, done.stderr
            assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
            assert setting in done.stderr
            assert "Traceback" not in done.stderr
            assert not (tmp_path / "second.db").exists()
    finally:
        kill_server(first)


@pytest.mark.slow
def test_a_second_demo_leaves_the_running_ones_city_alone(tmp_path: Path) -> None:
    """`make demo` deleted var/demo.db before finding its port taken by a demo still running:
    the first one went on serving from a deleted file, and what was written there was lost.
    (`dalgu demo` without `--fresh` wrote the city into it.)"""
    city = tmp_path / "var" / "demo.db"
    city.parent.mkdir()
    city.write_bytes(b"the running demo's city")
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as granian listens
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    env = {**server_environment(tmp_path / "unused.db", port), "COLUMNS": "300"}
    env.pop("DALGU_SQLITE_PATH")
    try:
        for fresh in (["--fresh"], []):
            done = subprocess.run(
                [sys.executable, "-m", "dalgu", "demo", *fresh],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 1, done.stdout + done.stderr
            assert f"cannot listen on 127.0.0.1:{port}" in done.stdout
            assert city.read_bytes() == b"the running demo's city"
    finally:
        holder.close()
