"""A few rows go in by INSERT, many by COPY: the table holds the same either way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from dalgu.store.postgres.bulk import SMALL, Columns, insert_rows
from tests.store.test_postgres_store import dsn

__all__ = ["dsn"]

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio(loop_scope="session")]

COLUMNS: Columns = (
    ("n", "int8"),
    ("kind", '"char"'),
    ("num", "float8"),
    ("txt", "text"),
    ("at", "timestamptz"),
    ("doc", "bytea"),
)
T0 = datetime(2026, 12, 5, tzinfo=UTC)


def rows(count: int) -> list[tuple[object, ...]]:
    return [
        (
            n,
            b"n" if n % 2 else b"s",
            None if n % 3 == 0 else n / 4,
            None if n % 5 == 0 else f"'{n}'; \\ \x1f",
            T0 + timedelta(seconds=n),
            b"\x00\xff" * n,
        )
        for n in range(count)
    ]


@pytest.mark.parametrize("count", [1, SMALL, SMALL + 1, 500])
async def test_rows_are_stored_as_given_by_insert_or_copy(dsn: str, count: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        table = f"bulk_{count}"
        await conn.execute(
            f'CREATE TABLE {table} (n int8, kind "char", num float8, txt text, '
            "at timestamptz, doc bytea)"
        )
        given = rows(count)
        await insert_rows(conn, table, COLUMNS, given)
        stored = [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY n")]
        assert stored == given
    finally:
        await conn.close()
