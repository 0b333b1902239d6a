"""The counts of `dalgu.store.summary`, in three tables of the SQLite store.

`type_entities (tenant, type)`, `type_attributes (tenant, type, name, kind)` and
`attribute_instances (tenant, name, kind)`, each with its count `n`: a batch writes each key
it changed once, in its transaction (1,000 new vehicles: 11 rows).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from dalgu.store.base import AttributeInfo, TypeInfo
from dalgu.store.summary import AttributeSummary, attribute_infos, type_infos

_TABLES = (
    ("type_entities", ("tenant", "type")),
    ("type_attributes", ("tenant", "type", "name", "kind")),
    ("attribute_instances", ("tenant", "name", "kind")),
)


def flush(db: sqlite3.Connection, summary: AttributeSummary) -> None:
    entities, typed, named = summary.counts()
    changes: tuple[list[tuple[Any, ...]], ...] = (
        [(*k, n) for k, n in entities.items()],
        [(*k, n) for k, n in typed.items()],
        [(*k, n) for k, n in named.items()],
    )
    for (table, key), changed in zip(_TABLES, changes, strict=True):
        if not changed:
            continue
        columns = ", ".join(key)
        db.executemany(
            f"INSERT INTO {table} ({columns}, n) VALUES ({', '.join('?' * len(key))}, ?) "
            f"ON CONFLICT ({columns}) DO UPDATE SET n = n + excluded.n",
            changed,
        )
        if any(row[-1] < 0 for row in changed):
            db.execute(f"DELETE FROM {table} WHERE n <= 0")


def types(db: sqlite3.Connection, tenant: str) -> list[TypeInfo]:
    return type_infos(
        db.execute("SELECT type, n FROM type_entities WHERE tenant = ?", (tenant,)),
        db.execute("SELECT type, name, kind FROM type_attributes WHERE tenant = ?", (tenant,)),
    )


def attributes(db: sqlite3.Connection, tenant: str) -> list[AttributeInfo]:
    return attribute_infos(
        db.execute("SELECT name, kind, n FROM attribute_instances WHERE tenant = ?", (tenant,)),
        db.execute("SELECT DISTINCT name, type FROM type_attributes WHERE tenant = ?", (tenant,)),
    )
