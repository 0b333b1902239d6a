"""`dalgu migrate` and `dalgu serve` facing a store they cannot open, from an outside test of
the production deployment: a 170-250-line traceback through asyncpg before the one line that
said what was wrong."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from typer.testing import CliRunner

from dalgu.cli.app import app as cli
from tests.conftest import fresh_database


def test_a_missing_database_is_one_line_and_status_1() -> None:
    missing = f"dalgu_missing_{uuid.uuid4().hex[:8]}"
    env = {
        "DALGU_STORE": "postgres",
        "DALGU_POSTGRES_DSN": f"postgresql://postgres@127.0.0.1:5432/{missing}",
        "COLUMNS": "300",
    }
    result = CliRunner().invoke(cli, ["migrate"], env=env)
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert f'database "{missing}" does not exist' in said
    assert "Traceback" not in result.output and len(result.output.splitlines()) <= 2


def test_a_connection_limit_below_the_pools_is_a_warning_at_start(
    request: pytest.FixtureRequest,
) -> None:
    """An outside test of operations (round 6) ran three workers under a role limited to six
    connections: up to half the writes were answered 503 as the pools grew, with nothing said
    at start. `dalgu migrate`, which `dalgu serve` runs first, now warns with the numbers."""
    role = f"dalgu_limited_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f"CREATE ROLE {role} LOGIN SUPERUSER CONNECTION LIMIT 6"))
    try:
        with fresh_database(request) as name:
            env = {
                "DALGU_STORE": "postgres",
                "DALGU_POSTGRES_DSN": f"postgresql://{role}@127.0.0.1:5432/{name}",
                "DALGU_MQTT_BROKER": "off",
                "DALGU_WORKERS": "3",
                "COLUMNS": "400",
            }
            warned = CliRunner().invoke(cli, ["migrate", "--quiet"], env=env)
            said = " ".join(warned.output.split())
            assert warned.exit_code == 0, said
            assert "allows this user 6 connections, fewer than the 32" in said, said
            assert "DALGU_POSTGRES_POOL_SIZE" in said
            enough = {**env, "DALGU_POSTGRES_POOL_SIZE": "1"}
            quiet = CliRunner().invoke(cli, ["migrate", "--quiet"], env=enough)
            assert quiet.exit_code == 0 and quiet.output == "", quiet.output
    finally:
        asyncio.run(_admin(f"DROP ROLE {role}"))


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1/postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
