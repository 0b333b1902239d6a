"""A throw-away PostgreSQL database per run, on the local server if it answers."""

from __future__ import annotations

import asyncio
import contextlib
import os

import asyncpg
import psutil

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _execute(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postgres_answers() -> bool:
    """True when the server at 127.0.0.1:5432 accepts the benchmark's connection."""
    try:
        asyncio.run(_execute("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def create_database() -> str:
    """A fresh `dalgu_bench_<pid>`; returns its DSN."""
    name = f"dalgu_bench_{os.getpid()}"
    asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_execute(f'CREATE DATABASE "{name}"'))
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def backend_cpu_seconds(dsn: str) -> dict[int, float]:
    """CPU time (user and system) of each PostgreSQL backend serving the database of `dsn`,
    by pid (the server's processes name their database in their title)."""
    name = dsn.rsplit("/", 1)[1]
    spent: dict[int, float] = {}
    for process in psutil.process_iter(["cmdline"]):
        title = " ".join(process.info["cmdline"] or [])
        if title.startswith("postgres:") and f" {name} " in f"{title} ":
            with contextlib.suppress(psutil.Error):
                spent[process.pid] = sum(process.cpu_times()[:2])
    return spent


def drop_database(dsn: str) -> None:
    name = dsn.rsplit("/", 1)[1]
    asyncio.run(_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def cancel_queries(dsn: str) -> None:
    """Cancel what still runs in the database (a query the harness gave up on)."""
    name = dsn.rsplit("/", 1)[1]
    asyncio.run(
        _execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND state = 'active' AND pid <> pg_backend_pid()"
        )
    )
