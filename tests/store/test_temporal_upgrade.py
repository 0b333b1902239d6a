"""A SQLite database made before the covering history index and the hourly rollups upgrades
in place: its history stays, is rolled up, and aggregations read it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from dalgu.query.ast import TypeName
from dalgu.query.duration import parse_duration
from dalgu.store.base import TemporalQuery
from dalgu.store.sqlite import SqliteEntityStore, schema

TEMP = "https://example.org/temperature"


def _indexes(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'instances'")
        return {name for (name,) in rows}
    finally:
        db.close()


async def test_an_older_database_upgrades_and_keeps_its_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    covering = next(i for i, m in enumerate(schema.MIGRATIONS) if "instances_history" in m)
    with monkeypatch.context() as patched:
        patched.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:covering])
        old = SqliteEntityStore(path)
        await old.open()
        await old.close()
    # the history as the code of that version wrote it (today's writes need today's tables)
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "INSERT INTO temporal_entities (tenant, id, types, created_at) "
            "VALUES ('', 'urn:ngsi-ld:Sensor:1', '[\"https://example.org/Sensor\"]', "
            "'2026-01-01T00:00:00.000000Z')"
        )
        for h, m, v in [(0, "00", 1), (0, "30", 3), (1, "00", 10), (2, "59", 7)]:
            at = f"2026-01-01T0{h}:{m}:00.000000Z"
            db.execute(
                "INSERT INTO instances (tenant, entity_id, name, at, observed_at, created_at, "
                "modified_at, num, doc) VALUES ('', 'urn:ngsi-ld:Sensor:1', ?, ?, ?, ?, ?, ?, ?)",
                (TEMP, at, at, at, at, v, b'{"type":"Property"}'),
            )
    db.close()
    assert "instances_observed" in _indexes(path)

    store = SqliteEntityStore(path)
    await store.open()
    try:
        indexes = _indexes(path)
        assert "instances_history" in indexes and "instances_observed" not in indexes
        found, _ = await store.temporal_query(
            "",
            TemporalQuery(
                types=TypeName("https://example.org/Sensor"),
                timerel="after",
                time_at="2026-01-01T00:00:00Z",
                aggregate=("avg", "totalCount"),
                period=parse_duration("PT1H"),
            ),
        )
        assert orjson.loads(orjson.dumps(found[0].aggregates[TEMP]["avg"])) == [
            [2.0, "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"],
            [10.0, "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"],
            [7.0, "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"],
        ]
        hours = store.db.execute("SELECT hour, count_all FROM instance_hours ORDER BY 1")
        assert [tuple(r) for r in hours] == [
            (1767225600, 2),  # 2026-01-01T00:00:00Z
            (1767229200, 1),
            (1767232800, 1),
        ]
    finally:
        await store.close()
    # the migration is idempotent: run again (as after a renumbering) it changes nothing
    db = sqlite3.connect(path)
    for statement in schema.MIGRATIONS[covering].split(";"):
        db.execute(statement)
    db.close()
    assert _indexes(path) == indexes
