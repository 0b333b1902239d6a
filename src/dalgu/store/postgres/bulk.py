"""Rows into a table the cheaper way for their number.

COPY costs the client the least per row but two round trips (the COPY statement, whose answer
the client waits for, then the data and its end); an INSERT of unnested arrays costs one. A
single entity's write has a handful of index and history rows in three tables: by COPY that
was six of its thirteen round trips, each a wait for the database and a turn of the event
loop. A few rows go by INSERT, many by COPY.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

#: at most this many rows go in one INSERT; more by COPY
SMALL = 32

Columns = tuple[tuple[str, str], ...]  # (name, PostgreSQL type) of each column


async def insert_rows(
    conn: Any, table: str, columns: Columns, records: Sequence[tuple[Any, ...]]
) -> None:
    """Insert `records` (one value per column, in order) into `table`."""
    if not records:
        return
    if len(records) > SMALL:
        names = [name for name, _ in columns]
        await conn.copy_records_to_table(table, columns=names, records=records)
        return
    await conn.execute(_insert(table, columns), *(list(c) for c in zip(*records, strict=True)))


@functools.cache
def _insert(table: str, columns: Columns) -> str:
    names = ", ".join(name for name, _ in columns)
    arrays = ", ".join(f"${i}::{kind}[]" for i, (_, kind) in enumerate(columns, start=1))
    return f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})"
