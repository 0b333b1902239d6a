"""A store outage is a 503 with `Retry-After`, never a 500, and the server recovers by itself.

PostgreSQL is cut off for real: the server reaches it through a TCP relay that this test stops
(every connection reset, new ones refused) and starts again, as a network partition or a
database restart would. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from dalgu.errors import StoreUnavailable
from dalgu.store.postgres.subscriptions import NOTIFIER_APPLICATION
from dalgu.store.sqlite import SqliteEntityStore
from tests.conftest import fresh_database
from tests.ports import free_port
from tests.server import kill_server, start_server

PROBLEM = "https://uri.etsi.org/ngsi-ld/errors/InternalError"


class Relay:
    """TCP relay from a loopback port to PostgreSQL that can be cut and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.open = threading.Event()
        self.open.set()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()  # refused, as a server that is down
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self._listener.close()


@pytest.fixture
def relayed_dsn(request: pytest.FixtureRequest) -> Iterator[tuple[str, Relay]]:
    with fresh_database(request) as name:
        relay = Relay(("127.0.0.1", 5432))
        try:
            yield f"postgresql://postgres@127.0.0.1:{relay.port}/{name}", relay
        finally:
            relay.close()


def test_postgresql_out_of_reach_is_a_503_and_the_server_recovers(
    tmp_path: Path, relayed_dsn: tuple[str, Relay]
) -> None:
    dsn, relay = relayed_dsn
    port, north, south = free_port(), free_port(), free_port()
    ports = {"DALGU_IOT_NORTH_PORT": str(north), "DALGU_IOT_SOUTH_PORT": str(south)}
    server = start_server(tmp_path / "unused.db", port, postgres_dsn=dsn, environment=ports)
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    thing = {"id": "urn:ngsi-ld:Thing:1", "type": "Thing", "n": 1}
    fiware = {"fiware-service": "city", "fiware-servicepath": "/"}
    group = {"apikey": "k1", "entity_type": "Thing", "resource": "/iot/d"}
    measure = f"http://127.0.0.1:{south}/iot/d"
    try:
        assert httpx.post(f"{base}/entities", json=thing).status_code == 201
        provisioned = httpx.post(
            f"http://127.0.0.1:{north}/iot/services", json={"services": [group]}, headers=fiware
        )
        assert provisioned.status_code == 201
        sent = httpx.post(measure, params={"k": "k1", "i": "d1"}, content="t|20", timeout=20)
        assert sent.status_code == 200
        relay.cut()
        answers = [
            httpx.get(f"{base}/entities/urn:ngsi-ld:Thing:1", timeout=20),  # the fast path
            httpx.get(f"{base}/entities", params={"type": "Thing"}, timeout=20),
            httpx.post(f"{base}/entities", json={**thing, "id": "urn:x:2"}, timeout=20),
        ]
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "5"
            problem = answer.json()
            assert problem["type"] == PROBLEM and problem["status"] == 503
            assert "PostgreSQL is unavailable" in problem["detail"]
        answers = [  # the IoT Agent's ports: a device sends its measure again later
            httpx.post(measure, params={"k": "k1", "i": "d1"}, content="t|21", timeout=20),
            httpx.get(f"http://127.0.0.1:{north}/iot/devices", headers=fiware, timeout=20),
        ]
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "5"
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=20).status_code == 503
        fhir = httpx.get(
            f"http://127.0.0.1:{port}/fhir/Patient/kim",
            headers={"X-Dalgu-Role": "admin", "X-Dalgu-Principal": "ops"},
            timeout=20,
        )
        assert fhir.status_code == 503
        assert fhir.json()["resourceType"] == "OperationOutcome"
        ckan = httpx.get(f"http://127.0.0.1:{port}/opendata/api/3/action/package_list", timeout=20)
        assert ckan.status_code == 503 and ckan.headers["Retry-After"] == "5"
        assert ckan.json()["success"] is False  # CKAN's envelope, for CKAN clients
        relay.restore()
        deadline, created = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            created = httpx.post(f"{base}/entities", json={**thing, "id": "urn:x:3"}, timeout=20)
            if created.status_code != 503:
                break
            time.sleep(0.5)
        assert created is not None and created.status_code == 201
        assert httpx.get(f"{base}/entities/urn:ngsi-ld:Thing:1").json()["n"]["value"] == 1
        # the notifier listens again: woken at once, and seen alive by other notifiers
        database = dsn.rsplit("/", 1)[1]
        deadline, listening = time.monotonic() + 20, 0
        while time.monotonic() < deadline and not listening:
            listening = asyncio.run(_listeners(database))
            time.sleep(0.2)
        assert listening == 1
    finally:
        kill_server(server, signal.SIGTERM)


async def _listeners(database: str) -> int:
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
            database,
            NOTIFIER_APPLICATION,
        )
        return count
    finally:
        await conn.close()


def test_sqlite_reports_a_file_it_cannot_open_as_an_outage(tmp_path: Path) -> None:
    store = SqliteEntityStore(tmp_path / "x.db")
    with pytest.raises(sqlite3.OperationalError) as unopenable:
        sqlite3.connect(tmp_path / "missing" / "x.db").execute("SELECT 1")
    assert isinstance(store.outage(unopenable.value), StoreUnavailable)
    with pytest.raises(sqlite3.OperationalError) as bad_statement:
        sqlite3.connect(":memory:").execute("SELEC 1")
    assert store.outage(bad_statement.value) is None  # a bug, not an outage: a 500


def test_an_outage_is_logged_when_it_begins_while_it_lasts_and_when_it_ends(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One warning per refused request gave 3,322 lines in ten seconds of an outage."""
    from starlette.requests import Request

    from dalgu.api import outage

    clock = [1000.0]
    monkeypatch.setattr(outage.time, "monotonic", lambda: clock[0])
    log = outage.OutageLog()
    scope = {"type": "http", "method": "POST", "path": "/ngsi-ld/v1/entities", "headers": []}
    request = Request({**scope, "query_string": b"", "server": ("127.0.0.1", 1026)})
    with caplog.at_level("WARNING", logger="dalgu.api"):
        for _ in range(3300):  # 300 requests a second for eleven seconds
            log.refused_one(request, "PostgreSQL is unavailable")
            clock[0] += 1 / 300
        log.refused_one(request, "PostgreSQL is unavailable")
        log.answered("GET")  # a read answered: the writes it refused may still fail
        log.answered("POST")
        log.answered("POST")  # no outage under way: nothing to say
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert "answering 503 until the store is back" in lines[0]
    assert "still unavailable after 10 s" in lines[1] and "in the last 10 s" in lines[1]
    assert "after 11.0 s unavailable: 3301 requests answered 503" in lines[2]


def test_a_full_disk_shows_in_health_while_reads_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outside test of operations (round 6) filled the disk under the SQLite file: every
    write was a 503 while `/health` said `pass` (its point read passed) and the log said the
    store answered again after the first read. `store:refused` is a `warn` naming the reason
    while writes fail, and only a write answered ends the outage in the log."""
    from starlette.testclient import TestClient

    from dalgu.api import outage
    from dalgu.api.app import build_app
    from dalgu.settings import Settings
    from tests.conftest import IN_PROCESS

    monkeypatch.setattr(outage, "OUTAGES", outage.OutageLog())
    settings = Settings.load(sqlite_path=tmp_path / "d.db", mqtt_broker="off", **IN_PROCESS)
    vehicle = {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": 1}
    with TestClient(build_app(settings)) as client:
        assert client.post("/ngsi-ld/v1/entities", json=vehicle).status_code == 201
        assert client.get("/health").json()["checks"]["store:refused"][0]["status"] == "pass"
        # the file may not grow past its pages now: SQLite's own "database or disk is full"
        writer = client.app.app.state.dalgu.store._db  # type: ignore[attr-defined]
        (pages,) = writer.execute("PRAGMA page_count").fetchone()
        writer.execute(f"PRAGMA max_page_count = {pages}")
        second = {**vehicle, "id": "urn:ngsi-ld:Vehicle:2", "notes": "x" * 200_000}
        refused = client.post("/ngsi-ld/v1/entities", json=second)
        assert refused.status_code == 503, refused.text
        assert client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:1").status_code == 200
        assert outage.OUTAGES.since is not None  # a read answered does not end it
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "warn"
        check = health.json()["checks"]["store:refused"][0]
        assert check["status"] == "warn" and "disk is full" in check["output"]
