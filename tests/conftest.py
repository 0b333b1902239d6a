"""Fixtures: a Dalgu app on each store backend, the real PostgreSQL for the production path."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.databases import HOST, DatabasePool, Template, admin

HAS_POSTGRES_STORE = importlib.util.find_spec("dalgu.store.postgres") is not None
BACKENDS = ["sqlite", "postgres"]
# tests reach the gateway through the API port; its own ports would clash between test runs
NO_GATEWAY_PORTS = {"iot_north_port": 0, "iot_south_port": 0, "coap_port": 0}
# the in-process test client runs no `dalgu serve`, which would start the notifier process;
# nor does it freeze the test run's heap (a full collection of it per app, ~0.1 s)
IN_PROCESS = {**NO_GATEWAY_PORTS, "notifier": "inline", "gc_freeze": False}


async def _migrated_template(name: str) -> None:
    """A database holding PostGIS and every migration: each test's database is copied from it
    (`CREATE DATABASE ... TEMPLATE`) instead of creating the extension and migrating (~1 s).
    The migrations themselves run here and in tests/store/test_postgres_store.py."""
    from dalgu.store.postgres.schema import migrate

    await admin(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(f"{HOST}/{name}")
    try:
        await migrate(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_pool() -> Iterator[DatabasePool]:
    """The worker's databases, copies of one migrated template (tests/databases.py)."""
    name = f"dalgu_template_{uuid.uuid4().hex[:12]}"
    asyncio.run(_migrated_template(name))
    template = Template(name)
    pool = DatabasePool(template)
    try:
        asyncio.run(template.read())
        yield pool
    finally:
        pool.close()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def fresh_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL database as freshly migrated, the test's alone until it ends."""
    pool: DatabasePool = request.getfixturevalue("postgres_pool")
    name = pool.take()
    try:
        yield name
    finally:
        pool.give_back(name)


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield Settings.load(sqlite_path=tmp_path / "dalgu.db", mqtt_broker="off", **IN_PROCESS)
        return
    if not HAS_POSTGRES_STORE:
        pytest.skip("the PostgreSQL store is not built yet (issue 2, in progress)")
    with fresh_database(request) as name:
        yield Settings.load(
            store="postgres",
            postgres_dsn=f"postgresql://postgres@127.0.0.1/{name}",
            mqtt_broker="off",
            **IN_PROCESS,
        )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(build_app(settings)) as test_client:
        yield test_client


@pytest.fixture(params=BACKENDS)
def dsn(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """For tests that run `dalgu serve`: None for the embedded store, else a fresh PostgreSQL
    database, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_database(request) as name:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests (marked `slow`) first, in their files' order otherwise: the xdist workers
    take tests in this order, and a long test handed out near the end runs alone after the
    others have finished."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
