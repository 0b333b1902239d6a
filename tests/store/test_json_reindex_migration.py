"""A database written before JsonProperty values were indexed is reindexed once when a store
opens it, on every store backend: `q` then finds its entities, their rows are those today's
writes make, and the kept counts are unchanged."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from dalgu.store import indexing
from dalgu.store.postgres import schema as postgres_schema
from dalgu.store.sqlite import SqliteEntityStore
from dalgu.store.sqlite import schema as sqlite_schema

E = "/ngsi-ld/v1/entities"
OVERSTAY = "Overstay 60 minutes"
CITY = {"NGSILD-Tenant": "city"}


def car(key: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Car:{key}",
        "type": "Car",
        "parkingTickets": {
            "type": "JsonProperty",
            "json": {"id": "85a6cc52-0589-45f9", "value": OVERSTAY, "fine": {"amount": 80}},
            "observedAt": "2026-12-01T10:00:00Z",
        },
        "meter": {
            "type": "Property",
            "value": 3,
            "rules": {"type": "JsonProperty", "json": {"max": [60, 120]}},
        },
        "note": {"type": "Property", "value": "no JsonProperty here"},
    }


def found(client: TestClient, q: str, headers: dict[str, str] | None = None) -> list[str]:
    response = client.get(E, params={"type": "Car", "q": q}, headers=headers or {})
    assert response.status_code == 200, response.text
    return sorted(e["id"] for e in response.json())


def summaries(client: TestClient, headers: dict[str, str]) -> list[Any]:
    """The kept counts: entities of the type, instances of each attribute."""
    names = ("parkingTickets", "meter", "note")
    return [client.get("/ngsi-ld/v1/types/Car", headers=headers).json()] + [
        client.get(f"/ngsi-ld/v1/attributes/{name}", headers=headers).json() for name in names
    ]


def version_of_the_migration(settings: Settings) -> int:
    schema: Any = sqlite_schema if settings.store == "sqlite" else postgres_schema
    return int(schema.MIGRATIONS.index(schema.index_json_values)) + 1


def forget_the_migration(settings: Settings) -> None:
    """The database as the version before this migration left it: its data migration has no
    schema of its own, so the versions from it on are the only difference."""
    version = version_of_the_migration(settings)
    if settings.store == "sqlite":
        db = sqlite3.connect(settings.sqlite_path)
        with db:
            db.execute("DELETE FROM schema_version WHERE version >= ?", (version,))
        db.close()
        return

    async def forget() -> None:
        conn = await asyncpg.connect(settings.postgres_dsn)
        try:
            await conn.execute("DELETE FROM schema_version WHERE version >= $1", version)
        finally:
            await conn.close()

    asyncio.run(forget())


def index_rows(settings: Settings, tenant: str, entity_id: str) -> list[tuple[Any, ...]]:
    """The entity's rows in the store's attribute index, without its surrogate key."""
    if settings.store == "sqlite":
        db = sqlite3.connect(settings.sqlite_path)
        try:
            rows = db.execute(
                "SELECT a.name, a.path, a.seq, a.kind, a.num, a.txt FROM attrs a "
                "JOIN entities e ON e.ent = a.ent WHERE e.tenant = ? AND e.id = ? "
                "UNION ALL SELECT m.name, m.path, NULL, 'multi', NULL, NULL FROM attrs_multi m "
                "JOIN entities e ON e.ent = m.ent WHERE e.tenant = ? AND e.id = ?",
                (tenant, entity_id, tenant, entity_id),
            ).fetchall()
        finally:
            db.close()
        return sorted(rows, key=repr)

    async def read() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(settings.postgres_dsn)
        try:
            records = await conn.fetch(
                """
                SELECT k.name, k.path, a.kind::text, a.num, NULL AS txt FROM attr_num a
                JOIN attr_keys k ON k.nid = a.nid JOIN entities e ON e.ent = a.ent
                WHERE e.tenant = $1 AND e.id = $2
                UNION ALL SELECT k.name, k.path, a.kind::text, NULL, a.txt FROM attr_txt a
                JOIN attr_keys k ON k.nid = a.nid JOIN entities e ON e.ent = a.ent
                WHERE e.tenant = $1 AND e.id = $2
                UNION ALL SELECT k.name, k.path, 'multi', NULL, NULL FROM attr_multi m
                JOIN attr_keys k ON k.nid = m.nid JOIN entities e ON e.ent = m.ent
                WHERE e.tenant = $1 AND e.id = $2
                """,
                tenant,
                entity_id,
            )
        finally:
            await conn.close()
        return sorted((tuple(r) for r in records), key=repr)

    return asyncio.run(read())


def test_an_older_database_is_reindexed_once_and_then_matches(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as older:
        # the writes of the code before: a JsonProperty's JSON made no rows
        older.setattr(indexing, "_json_rows", lambda *args: None)
        with TestClient(build_app(settings)) as client:
            for key, headers in (("old", {}), ("old", CITY)):
                response = client.post(E, json=car(key), headers=headers)
                assert response.status_code == 201, response.text
            plain = {"id": "urn:ngsi-ld:Car:plain", "type": "Car", "note": "JsonProperty"}
            assert client.post(E, json=plain).status_code == 201
            assert found(client, f'parkingTickets[value]=="{OVERSTAY}"') == []
            counted = [summaries(client, {}), summaries(client, CITY)]
            plain_rows = index_rows(settings, "", "urn:ngsi-ld:Car:plain")
    forget_the_migration(settings)

    with TestClient(build_app(settings)) as client:
        assert summaries(client, {}) == counted[0] and summaries(client, CITY) == counted[1]
        for headers in ({}, CITY):
            assert found(client, f'parkingTickets[value]=="{OVERSTAY}"', headers) == [
                "urn:ngsi-ld:Car:old"
            ]
            assert found(client, "parkingTickets[fine.amount]>50", headers) == [
                "urn:ngsi-ld:Car:old"
            ]
            assert found(client, "meter.rules[max]==100..130", headers) == ["urn:ngsi-ld:Car:old"]
        # the rows are those today's writes make of the same entity
        for key, headers in (("new", {}), ("new", CITY)):
            assert client.post(E, json=car(key), headers=headers).status_code == 201
    assert index_rows(settings, "", "urn:ngsi-ld:Car:plain") == plain_rows
    for tenant in ("", "city"):
        migrated = index_rows(settings, tenant, "urn:ngsi-ld:Car:old")
        assert migrated == index_rows(settings, tenant, "urn:ngsi-ld:Car:new")
        assert any(row[1] == "[fine][amount]" for row in migrated)

    # recorded: the next open leaves the rows as they are
    with TestClient(build_app(settings)) as client:
        assert found(client, "parkingTickets[fine.amount]>50") == [
            "urn:ngsi-ld:Car:new",
            "urn:ngsi-ld:Car:old",
        ]
    assert index_rows(settings, "", "urn:ngsi-ld:Car:old") == index_rows(
        settings, "", "urn:ngsi-ld:Car:new"
    )


class _Racing:
    """A connection to a database that another process migrates just after this one read the
    database's version."""

    def __init__(self, db: sqlite3.Connection, other: sqlite3.Connection) -> None:
        self.db, self.other, self.raced = db, other, False

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.db.create_function(*args, **kwargs)

    def execute(self, sql: str, *params: Any) -> sqlite3.Cursor:
        cursor = self.db.execute(sql, *params)
        if sql.startswith("SELECT max(version)") and not self.raced:
            self.raced = True
            sqlite_schema.migrate(self.other)
        return cursor


async def test_sqlite_a_migration_applied_meanwhile_by_another_process_is_not_applied_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dalgu.db"
    store = SqliteEntityStore(path)
    await store.open()
    await store.close()
    version = sqlite_schema.MIGRATIONS.index(sqlite_schema.index_json_values) + 1
    first, second = (sqlite3.connect(path, isolation_level=None) for _ in range(2))
    first.execute("DELETE FROM schema_version WHERE version >= ?", (version,))
    sqlite_schema.migrate(_Racing(first, second))  # type: ignore[arg-type]
    (applied,) = first.execute(
        "SELECT count(*) FROM schema_version WHERE version = ?", (version,)
    ).fetchone()
    first.close()
    second.close()
    assert applied == 1
