"""Columns sent joined into one text (`store/postgres/packed.py`) come out of PostgreSQL as
the same list of strings, whatever the strings hold: no value is split, merged or lost."""

from __future__ import annotations

import asyncpg
import pytest

from dalgu.store.postgres.packed import pack, unpack
from tests.store.test_postgres_store import dsn

__all__ = ["dsn"]

COLUMNS: list[list[str | None]] = [
    [],
    [""],
    ["", ""],
    ["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"],
    [None],
    ["a", None, "", None],
    ["a\x1fb", "c"],  # the first separator inside a value
    ["\x1f\x1e\x1d\x1c", "x"],  # every single-character separator
    ["\x1a\x19", None, "\x1f\x1e\x1d\x1c"],  # every marker and separator
    ["NULL", "null", "{}", '{"a": [1, "b"]}', "é한국어🙂", "\n\t\\"],
    ["end\x1f", "\x1fstart"],
]


@pytest.mark.parametrize("column", COLUMNS, ids=repr)
async def test_a_column_round_trips(dsn: str, column: list[str | None]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        params = pack(column)
        got = await conn.fetchval(f"SELECT {unpack(3, 1)}", *params)
    finally:
        await conn.close()
    assert got == column


async def test_columns_of_one_statement_share_the_separator(dsn: str) -> None:
    ids = ["urn:a", "urn:b\x1f", "urn:c"]
    names = ["x", "y", None]
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            f"SELECT * FROM unnest({unpack(3, 1)}, {unpack(4, 1)}) AS u(id, name)",
            *pack(ids, names),
        )
    finally:
        await conn.close()
    assert [(r["id"], r["name"]) for r in rows] == list(zip(ids, names, strict=True))


def test_values_holding_every_candidate_get_a_random_separator() -> None:
    hostile = ["\x1f\x1e\x1d\x1c\x1a\x19"]
    separator, null, text = pack(hostile)
    assert len(separator) > 1 and len(null) > 1
    assert text == separator + hostile[0]
