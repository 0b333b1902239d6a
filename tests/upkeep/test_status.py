"""`dalgu status` on both stores: what an operator reads of a deployment, without changing it
(an outside test of the production deployment found no way to ask)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from dalgu import __version__
from dalgu.api.app import build_app
from dalgu.cli.app import app as cli
from dalgu.settings import Settings
from dalgu.store.postgres.schema import MIGRATIONS as POSTGRES_MIGRATIONS
from dalgu.store.sqlite.schema import MIGRATIONS as SQLITE_MIGRATIONS
from dalgu.upkeep import read_status
from tests.conftest import fresh_database
from tests.ports import free_port
from tests.server import kill_server, start_server
from tests.upkeep.stores import (
    Unhealthy,
    cli_environment,
    load_vehicles,
    schema_version,
    set_schema_version,
    vehicle,
)

E = "/ngsi-ld/v1/entities"
S = "/ngsi-ld/v1/subscriptions"
VEHICLE = "https://uri.etsi.org/ngsi-ld/default-context/Vehicle"
BUS = "https://uri.etsi.org/ngsi-ld/default-context/Bus"


def status(settings: Settings, *args: str, port: int | None = None) -> Result:
    env = cli_environment(settings, port or free_port())
    return CliRunner().invoke(cli, ["status", *args], env=env)


def status_json(settings: Settings) -> dict[str, Any]:
    result = status(settings, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def subscription(sid: str, *, active: bool = True) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Subscription:{sid}",
        "type": "Subscription",
        "isActive": active,
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/never"}},
    }


def populate(settings: Settings) -> None:
    """Default tenant: 3 vehicles, an active subscription; tenant daegu: 2 vehicles, a bus, a
    paused and an active subscription. No notifier runs, so every change waits unmatched."""
    with TestClient(build_app(settings.model_copy(update={"notifier": "off"}))) as client:
        daegu = {"NGSILD-Tenant": "daegu"}
        paused = subscription("b", active=False)
        assert client.post(S, json=subscription("a")).status_code == 201
        assert client.post(S, json=paused, headers=daegu).status_code == 201
        assert client.post(S, json=subscription("c"), headers=daegu).status_code == 201
        for n in range(3):
            assert client.post(E, json=vehicle(f"d{n}")).status_code == 201
        for n in range(2):
            assert client.post(E, json=vehicle(f"g{n}"), headers=daegu).status_code == 201
        bus = {"id": "urn:ngsi-ld:Bus:1", "type": "Bus"}
        assert client.post(E, json=bus, headers=daegu).status_code == 201


def migrated(settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["migrate"], env=cli_environment(settings, free_port()))
    assert result.exit_code == 0, result.output


def test_an_empty_store_is_current_with_no_tenants(settings: Settings) -> None:
    migrated(settings)
    document = status_json(settings)
    assert document["store"]["kind"] == settings.store
    assert document["schema"]["state"] == "current"
    assert document["schema"]["version"] == document["schema"]["expected"]
    assert document["tenants"] == []
    assert document["backlog"]["notifier"]["changes"] == 0
    assert document["server"]["status"] is None  # nothing listens on the port
    assert document["exitStatus"] == 0
    assert document["dalgu"] == __version__


def test_entities_and_subscriptions_are_counted_per_tenant(settings: Settings) -> None:
    populate(settings)
    tenants = {t["tenant"]: t for t in status_json(settings)["tenants"]}
    assert set(tenants) == {"", "daegu"}
    assert tenants[""]["types"] == {VEHICLE: 3}
    assert tenants[""]["entities"] == 3
    assert tenants["daegu"]["types"] == {VEHICLE: 2, BUS: 1}
    assert tenants["daegu"]["entities"] == 3
    assert tenants[""]["subscriptions"] == {"active": 1, "paused": 0, "expired": 0}
    assert tenants["daegu"]["subscriptions"] == {"active": 1, "paused": 1, "expired": 0}


def test_changes_no_notifier_matched_are_the_backlog(settings: Settings) -> None:
    populate(settings)
    document = status_json(settings)
    tenants = {t["tenant"]: t for t in document["tenants"]}
    # the vehicles' creates wait (the bus matches no subscription's type: not recorded)
    assert tenants[""]["backlog"] == 3
    assert tenants["daegu"]["backlog"] == 2
    assert document["backlog"]["notifier"]["changes"] == 5
    assert 0 <= document["backlog"]["notifier"]["oldestAge"] < 120
    assert tenants[""]["oldestUnmatchedAge"] is not None


def test_the_backlog_empties_once_a_notifier_matched_it(settings: Settings) -> None:
    populate(settings)
    with TestClient(build_app(settings)) as client:  # an inline notifier
        deadline = time.monotonic() + 10
        while status_json(settings)["backlog"]["notifier"]["changes"] and (
            time.monotonic() < deadline
        ):
            client.get("/health")
            time.sleep(0.1)
    document = status_json(settings)
    assert document["backlog"]["notifier"]["changes"] == 0
    assert all(t["backlog"] == 0 for t in document["tenants"])


def test_with_the_change_feed_on_its_backlog_is_reported_too(settings: Settings) -> None:
    populate(settings)
    env = {**cli_environment(settings, free_port()), "DALGU_CHANGE_FEED": "nats"}
    result = CliRunner().invoke(cli, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    backlog = json.loads(result.stdout)["backlog"]
    assert set(backlog) == {"notifier", "feed"}
    assert backlog["feed"]["changes"] == 5  # no relay has read any of them either


def test_the_table_names_tenants_types_and_the_schema(settings: Settings) -> None:
    populate(settings)
    result = status(settings)
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "(default)" in said and "daegu" in said
    assert "Vehicle 2" in said and "Bus 1" in said
    assert "1 active" in said and "1 paused" in said
    assert "(current for Dalgu" in said
    assert "5 changes not yet read" in said


def test_a_missing_store_is_one_line_and_status_1(settings: Settings) -> None:
    if settings.store == "sqlite":
        missing = settings
    else:
        missing = settings.model_copy(
            update={"postgres_dsn": "postgresql://postgres@127.0.0.1:5432/dalgu_no_such_db"}
        )
    result = status(missing)
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    if settings.store == "sqlite":
        assert "no SQLite database" in result.output
        assert not settings.sqlite_path.exists()  # status made none
    else:
        assert "does not exist" in result.output


def test_a_missing_database_names_the_ones_beside_it(tmp_path: Path) -> None:
    """After `make demo` (its city in var/demo.db) `dalgu status` looked at var/dalgu.db and
    said to run `dalgu migrate`, which would have made a second, empty database."""
    (tmp_path / "demo.db").write_bytes(b"")
    result = status(Settings.load(store="sqlite", sqlite_path=tmp_path / "dalgu.db"))
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "this folder has demo.db" in said
    assert "DALGU_SQLITE_PATH" in said
    assert "dalgu migrate" not in said


def test_a_schema_behind_is_status_3_and_is_not_migrated(settings: Settings) -> None:
    migrated(settings)
    expected = len(SQLITE_MIGRATIONS if settings.store == "sqlite" else POSTGRES_MIGRATIONS)
    asyncio.run(set_schema_version(settings, expected - 1))
    result = status(settings)
    assert result.exit_code == 3, result.output
    assert "dalgu migrate" in result.output
    document = json.loads(status(settings, "--json").stdout)
    assert document["schema"] == {"state": "behind", "version": expected - 1, "expected": expected}
    assert document["exitStatus"] == 3
    assert asyncio.run(schema_version(settings)) == expected - 1  # status migrated nothing


def test_the_sqlite_file_is_left_byte_for_byte_as_it_was(tmp_path: Path) -> None:
    settings = Settings.load(sqlite_path=tmp_path / "dalgu.db", mqtt_broker="off")
    populate(settings)
    before = hashlib.sha256(settings.sqlite_path.read_bytes()).hexdigest()
    assert status(settings).exit_code == 0
    assert hashlib.sha256(settings.sqlite_path.read_bytes()).hexdigest() == before


def test_a_schema_ahead_says_this_dalgu_is_older(settings: Settings) -> None:
    migrated(settings)
    expected = len(SQLITE_MIGRATIONS if settings.store == "sqlite" else POSTGRES_MIGRATIONS)
    asyncio.run(set_schema_version(settings, expected + 1))
    result = status(settings)
    assert result.exit_code == 3, result.output
    assert "older than the data" in " ".join(result.output.split())
    assert asyncio.run(schema_version(settings)) == expected + 1


def test_migrate_and_serve_refuse_a_schema_ahead_and_touch_nothing(settings: Settings) -> None:
    """An operator rolling back the package after a bad upgrade: the older Dalgu served and
    wrote the newer database without a word, leaving counters the newer one keeps wrong
    (an outside test, round 6). Both now stop with one line naming the two versions."""
    migrated(settings)
    expected = len(SQLITE_MIGRATIONS if settings.store == "sqlite" else POSTGRES_MIGRATIONS)
    asyncio.run(set_schema_version(settings, expected + 1))
    env = cli_environment(settings, free_port())
    result = CliRunner().invoke(cli, ["migrate"], env=env)
    assert result.exit_code == 1, result.output
    ahead = f"schema version {expected + 1}, ahead of the {expected}"
    assert ahead in " ".join(result.output.split())
    # `serve` starts processes of its own: run as an operator does
    served = subprocess.run(
        [sys.executable, "-m", "dalgu", "serve"],
        env={**os.environ, **env, "DALGU_NOTIFIER": "inline"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = " ".join((served.stdout + served.stderr).split())
    assert served.returncode == 1, said
    assert ahead in said and "Traceback" not in said
    assert asyncio.run(schema_version(settings)) == expected + 1


def test_a_schema_before_the_kept_counts_shows_them_unknown_not_zero(tmp_path: Path) -> None:
    """An operator checking that the data is there before migrating read "0 entities" in
    every tenant of a database whose schema predates the kept counts (outside test, round 6)."""
    settings = Settings.load(sqlite_path=tmp_path / "old.db", mqtt_broker="off")
    populate(settings)
    db = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    db.execute("DROP TABLE type_entities")
    db.close()
    asyncio.run(set_schema_version(settings, len(SQLITE_MIGRATIONS) - 1))
    result = status(settings)
    assert result.exit_code == 3, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "? (migrate)" in rows["daegu"] and "? (migrate)" in rows["(default)"]
    assert " 0 " not in rows["daegu"].split("│")[2]


def test_migrate_says_what_it_did(settings: Settings) -> None:
    env = cli_environment(settings, free_port())
    expected = len(SQLITE_MIGRATIONS if settings.store == "sqlite" else POSTGRES_MIGRATIONS)

    def said() -> str:
        result = CliRunner().invoke(cli, ["migrate"], env=env)
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    first = said()  # (the PostgreSQL fixture's database is made at the current version)
    if settings.store == "sqlite":
        assert f"schema created (sqlite, version {expected})" in first
    assert f"schema up to date ({settings.store}, version {expected})" in said()
    asyncio.run(set_schema_version(settings, expected - 1))
    assert f"schema migrated ({settings.store}, version {expected - 1} → {expected})" in said()


def test_a_running_server_is_reported_with_its_checks(settings: Settings) -> None:
    migrated(settings)
    port = free_port()
    dsn = settings.postgres_dsn if settings.store == "postgres" else None
    server = start_server(settings.sqlite_path, port, postgres_dsn=dsn)
    try:
        result = status(settings, "--json", port=port)
    finally:
        kill_server(server, signal.SIGTERM)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)["server"]
    assert answer["url"] == f"http://127.0.0.1:{port}/health"
    assert answer["status"] == "pass" and answer["httpStatus"] == 200
    assert answer["checks"]["store:responseTime"][0]["status"] == "pass"


def test_a_server_whose_health_fails_is_status_1(settings: Settings) -> None:
    migrated(settings)
    port = free_port()
    with Unhealthy(port, "fail", 503):
        result = status(settings, port=port)
    assert result.exit_code == 1, result.output
    assert "fail" in result.output


@pytest.mark.postgres
def test_the_postgres_password_is_masked(request: pytest.FixtureRequest) -> None:
    secret = "s3cret-Pa55"
    with fresh_database(request) as name:
        # the test server trusts loopback: the password is sent and ignored
        dsn = f"postgresql://postgres:{secret}@127.0.0.1:5432/{name}"
        settings = Settings.load(store="postgres", postgres_dsn=dsn, mqtt_broker="off")
        result = status(settings, "--json")
        table = status(settings)
    assert result.exit_code == 0, result.output
    assert secret not in result.output and secret not in table.output
    assert json.loads(result.stdout)["store"]["location"] == (
        f"postgresql://postgres:***@127.0.0.1:5432/{name}"
    )


def test_status_reads_a_large_store_quickly(settings: Settings) -> None:
    """100,000 entities: the counts are those the writes keep, the backlog a bounded range."""
    asyncio.run(load_vehicles(settings, 100_000))
    asyncio.run(read_status(settings))  # connections and caches warm
    began = time.perf_counter()
    found = asyncio.run(read_status(settings))
    elapsed = time.perf_counter() - began
    assert found.tenants[0].types == {VEHICLE: 100_000}
    assert elapsed < 0.5, f"{elapsed:.3f} s"


def test_the_backlog_is_read_at_the_notifiers_and_the_feeds_cursors() -> None:
    from dalgu.feed.relay import CONSUMER
    from dalgu.subscriptions.service import NOTIFIER
    from dalgu.upkeep import status as upkeep

    assert (upkeep.NOTIFIER, upkeep.FEED) == (NOTIFIER, CONSUMER)
