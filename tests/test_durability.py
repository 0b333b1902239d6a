"""An acknowledged write survives kill -9 of the server process (embedded store)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(db: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DALGU_SQLITE_PATH": str(db), "DALGU_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "dalgu", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    db, port = tmp_path / "dalgu.db", _free_port()
    server = _start(db, port)
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    try:
        for n in range(50):
            body = {"id": f"urn:ngsi-ld:Thing:{n}", "type": "Thing", "n": n}
            assert httpx.post(f"{base}/entities", json=body).status_code == 201
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    server = _start(db, _free_port() if False else port)
    try:
        listed = httpx.get(
            f"{base}/entities", params={"type": "Thing", "limit": 100, "count": "true"}
        )
        assert listed.headers["NGSILD-Results-Count"] == "50"
    finally:
        server.terminate()
        server.wait(10)
