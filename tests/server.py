"""Start Dalgu as a real server process on loopback, for tests that kill it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


def server_environment(
    db: Path,
    port: int,
    *,
    postgres_dsn: str | None = None,
    environment: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of `dalgu serve` on `db` (SQLite), or on the PostgreSQL database
    `postgres_dsn` names, API on `port`, no gateway ports; `environment` overrides."""
    store = {"DALGU_STORE": "postgres", "DALGU_POSTGRES_DSN": postgres_dsn} if postgres_dsn else {}
    return {
        **os.environ,
        **store,
        "DALGU_SQLITE_PATH": str(db),
        "DALGU_PORT": str(port),
        "DALGU_MQTT_BROKER": "off",
        "DALGU_IOT_NORTH_PORT": "0",
        "DALGU_IOT_SOUTH_PORT": "0",
        "DALGU_COAP_PORT": "0",
        **(environment or {}),
    }


def start_server(
    db: Path,
    port: int,
    *,
    postgres_dsn: str | None = None,
    environment: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """A server on `db` (SQLite), or on the PostgreSQL database `postgres_dsn` names;
    `environment` overrides its settings (`DALGU_*`)."""
    env = server_environment(db, port, postgres_dsn=postgres_dsn, environment=environment)
    process = subprocess.Popen(
        [sys.executable, "-m", "dalgu", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the server and its worker die together
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:  # it refused to start (a port taken, say): no wait
            raise RuntimeError(f"server exited with {process.returncode} before it served")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    kill_server(process)
    raise RuntimeError("server did not start")


def kill_server(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal the whole server (granian's main process and its workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(10)
