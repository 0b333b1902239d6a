"""What the tests of `dalgu status` and `dalgu backup` share: the CLI's environment for a
store, writes straight to it, and a server whose health the test chooses."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import asyncpg
import httpx

from dalgu.broker.mutations import create
from dalgu.settings import Settings
from dalgu.store.factory import open_store

NS = "https://uri.etsi.org/ngsi-ld/default-context/"
T0 = "2026-01-01T00:00:00Z"


def cli_environment(settings: Settings, port: int) -> dict[str, str]:
    """`DALGU_*` for a CLI command on the store of `settings`, its server on `port`."""
    return {
        "DALGU_STORE": settings.store,
        "DALGU_SQLITE_PATH": str(settings.sqlite_path),
        "DALGU_POSTGRES_DSN": settings.postgres_dsn,
        "DALGU_HOST": "127.0.0.1",
        "DALGU_PORT": str(port),
        "DALGU_MQTT_BROKER": "off",
        # no gateway ports: a Dalgu running on the machine (make demo) holds the defaults
        "DALGU_IOT_NORTH_PORT": "0",
        "DALGU_IOT_SOUTH_PORT": "0",
        "DALGU_COAP_PORT": "0",
        "COLUMNS": "200",
    }


def vehicle(key: str, speed: float = 50.0) -> dict[str, Any]:
    """A Vehicle as a client sends it (normalized, core context)."""
    return {
        "id": f"urn:ngsi-ld:Vehicle:{key}",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": speed},
    }


async def load_vehicles(settings: Settings, count: int, batch: int = 5_000) -> None:
    """`count` vehicles in the default tenant, written straight to the store."""
    store = open_store(settings)
    await store.open()
    try:
        for first in range(0, count, batch):
            items: list[tuple[str, Any]] = []
            for n in range(first, min(count, first + batch)):
                doc = {
                    "id": f"urn:ngsi-ld:Vehicle:{n}",
                    "type": [NS + "Vehicle"],
                    "createdAt": T0,
                    "modifiedAt": T0,
                    NS + "speed": [{"type": "Property", "value": n % 120}],
                }
                items.append((doc["id"], create(doc)))
            await store.mutate("", items, history=False)
    finally:
        await store.close()


async def set_schema_version(settings: Settings, version: int) -> None:
    """Make the store say it is at `version`: its newer versions' rows deleted (an older
    database, as far as the version says) or a newer one's added."""
    if settings.store == "sqlite":
        db = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        try:
            db.execute("DELETE FROM schema_version WHERE version > ?", (version,))
            if db.execute("SELECT max(version) FROM schema_version").fetchone()[0] < version:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        finally:
            db.close()
        return
    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        await conn.execute("DELETE FROM schema_version WHERE version > $1", version)
        if await conn.fetchval("SELECT max(version) FROM schema_version") < version:
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
    finally:
        await conn.close()


async def schema_version(settings: Settings) -> int:
    if settings.store == "sqlite":
        db = sqlite3.connect(settings.sqlite_path)
        try:
            found: int = db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
            return found
        finally:
            db.close()
    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        version: int = await conn.fetchval("SELECT max(version) FROM schema_version")
        return version
    finally:
        await conn.close()


class Unhealthy:
    """A server on loopback `port` answering `GET /health` with `status` (health+json) and
    the HTTP status `code`, as a Dalgu server in that state does."""

    def __init__(self, port: int, status: str, code: int) -> None:
        body = json.dumps(
            {"status": status, "checks": {"store:responseTime": [{"status": status}]}}
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/health+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Unhealthy:
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Writer(threading.Thread):
    """Creates vehicles one by one through the API at `base` until stopped; `acknowledged`
    lists the ids the server answered 201 for, in order."""

    def __init__(self, base: str, prefix: str) -> None:
        super().__init__(daemon=True)
        self.base, self.prefix = base, prefix
        self.acknowledged: list[str] = []
        self.failures: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            n = 0
            while not self._halt.is_set():
                body = vehicle(f"{self.prefix}{n}", speed=n)
                answer = client.post("/ngsi-ld/v1/entities", json=body)
                if answer.status_code == 201:
                    self.acknowledged.append(body["id"])
                else:
                    self.failures.append(f"{answer.status_code} {answer.text[:200]}")
                n += 1

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"writer stuck: {self.failures[-3:]}"
            time.sleep(0.01)

    def stop(self) -> None:
        self._halt.set()
        self.join(15)
