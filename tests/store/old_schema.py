"""An older database written by today's store: for tests of what a migration does to it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dalgu.broker.mutations import create
from dalgu.store.base import Entity
from dalgu.store.sqlite import SqliteEntityStore, schema

# what today's writes need that older schemas lack: columns, and the summary tables
_COLUMNS = (
    ("entities", "rendered", "BLOB"),
    ("entities", "type1", "TEXT"),
    ("geo", "px", "REAL"),
    ("geo", "py", "REAL"),
    ("instances", "px", "REAL"),
    ("instances", "py", "REAL"),
)
_TABLES = {
    "type_entities": "tenant, type",
    "type_attributes": "tenant, type, name, kind",
    "attribute_instances": "tenant, name, kind",
}


@contextmanager
def written_today(db: sqlite3.Connection) -> Iterator[None]:
    """Inside: the columns and tables today's writes need, added where the database lacks
    them. After: the columns dropped again and the tables gone (temporary), so the database is
    of its old version, with rows written the way today's store writes them."""
    columns = {
        (table, row[1])
        for table in {table for table, _, _ in _COLUMNS}
        for row in db.execute(f"PRAGMA table_info({table})")
    }
    added = [(t, name, kind) for t, name, kind in _COLUMNS if (t, name) not in columns]
    for table, name, kind in added:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    temporary = [table for table in _TABLES if table not in tables]
    for table in temporary:
        key = _TABLES[table]
        db.execute(f"CREATE TEMP TABLE {table} ({key}, n, PRIMARY KEY ({key}))")
    try:
        yield
    finally:
        for table, name, _ in added:
            db.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
        for table in temporary:
            db.execute(f"DROP TABLE temp.{table}")


async def write_before(
    path: Path, marker: str, entities: list[Entity], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database at `path` of the version before the first migration whose script holds
    `marker`, holding `entities` as today's store writes them."""
    kept = next(i for i, m in enumerate(schema.MIGRATIONS) if marker in m)
    with monkeypatch.context() as patched:
        patched.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:kept])
        old = SqliteEntityStore(path)
        await old.open()
        with written_today(old.db):
            writes: list[tuple[str, Any]] = [(e["id"], create(e)) for e in entities]
            await old.mutate("", writes)
        await old.close()
