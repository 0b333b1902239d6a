"""An older database written by today's store: for tests of what a migration does to it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

# what today's writes need that older schemas lack: entity columns, and the summary tables
_COLUMNS = (("rendered", "BLOB"), ("type1", "TEXT"))
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
    columns = {row[1] for row in db.execute("PRAGMA table_info(entities)")}
    added = [(name, kind) for name, kind in _COLUMNS if name not in columns]
    for name, kind in added:
        db.execute(f"ALTER TABLE entities ADD COLUMN {name} {kind}")
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    temporary = [table for table in _TABLES if table not in tables]
    for table in temporary:
        key = _TABLES[table]
        db.execute(f"CREATE TEMP TABLE {table} ({key}, n, PRIMARY KEY ({key}))")
    try:
        yield
    finally:
        for name, _ in added:
            db.execute(f"ALTER TABLE entities DROP COLUMN {name}")
        for table in temporary:
            db.execute(f"DROP TABLE temp.{table}")
