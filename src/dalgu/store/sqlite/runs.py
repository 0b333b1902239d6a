"""Conformance runs and the messages every server process saw during them, in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from dalgu.store.base import RunJournal, RunRecord
from dalgu.store.sqlite.lock import transaction

_COLUMNS = "id, tenant, apikey, doc, started, ends, owner, lease_until"


class SqliteRunJournal(RunJournal):
    """Mixed into `SqliteEntityStore`: shares its connection."""

    @property
    def db(self) -> sqlite3.Connection:  # provided by the entity store
        raise NotImplementedError

    async def put_run(self, run: RunRecord) -> None:
        await self._write(
            f"INSERT INTO testbed_runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run.id,
                    run.tenant,
                    run.apikey,
                    orjson.dumps(run.doc),
                    run.started,
                    run.ends,
                    run.owner,
                    run.lease_until,
                )
            ],
        )

    async def active_runs(self) -> list[RunRecord]:
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM testbed_runs ORDER BY started, id")
        return [
            RunRecord(r[0], r[1], r[2], orjson.loads(r[3]), r[4], r[5], r[6], r[7]) for r in rows
        ]

    async def claim_run(self, run_id: str, owner: str, now: float, until: float) -> bool:
        db = self.db
        async with transaction(db):
            cursor = db.execute(
                "UPDATE testbed_runs SET owner = ?, lease_until = ? "
                "WHERE id = ? AND (owner = ? OR lease_until < ?)",
                (owner, until, run_id, owner, now),
            )
        return cursor.rowcount > 0

    async def add_run_events(self, events: Sequence[tuple[str, str, str, bytes]]) -> None:
        if events:
            await self._write(
                "INSERT INTO testbed_run_events (tenant, run_id, kind, doc) VALUES (?, ?, ?, ?)",
                events,
            )

    async def run_events(self, run_id: str, after: int = 0) -> list[tuple[int, str, bytes]]:
        return list(
            self.db.execute(
                "SELECT seq, kind, doc FROM testbed_run_events WHERE run_id = ? AND seq > ? "
                "ORDER BY seq",
                (run_id, after),
            )
        )

    async def count_run_events(self, run_id: str, kind: str) -> int:
        (count,) = self.db.execute(
            "SELECT count(*) FROM testbed_run_events WHERE run_id = ? AND kind = ?",
            (run_id, kind),
        ).fetchone()
        return int(count)

    async def finish_run(self, run: RunRecord, created_at: str, report: dict[str, Any]) -> None:
        db = self.db
        async with transaction(db):
            db.execute(
                "INSERT OR REPLACE INTO testbed_reports (tenant, id, created_at, doc) "
                "VALUES (?, ?, ?, ?)",
                (run.tenant, run.id, created_at, orjson.dumps(report)),
            )
            db.execute("DELETE FROM testbed_run_events WHERE run_id = ?", (run.id,))
            db.execute("DELETE FROM testbed_runs WHERE id = ?", (run.id,))

    async def _write(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """One statement in a transaction of its own, the write lock waited for on the loop."""
        db = self.db
        async with transaction(db):
            db.executemany(sql, rows)
