"""Conformance runs and the messages every server process saw during them, in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from dalgu.store.base import RunJournal, RunRecord

# taken by every writer of run events for the length of its transaction: a sequence hands out
# `seq` at insert time, so without it a transaction could commit after another one's higher
# seq had been read, and the owner, reading on from the last seq it saw, would never see it
EVENTS_LOCK = 0x72756E73  # "runs"

_COLUMNS = "id, tenant, apikey, doc::text, started, ends, owner, lease_until"


class PostgresRunJournal(RunJournal):
    """Mixed into `PostgresEntityStore`: shares its pool."""

    @property
    def pool(self) -> Any:  # provided by the entity store
        raise NotImplementedError

    async def put_run(self, run: RunRecord) -> None:
        await self.pool.execute(
            "INSERT INTO testbed_runs (id, tenant, apikey, doc, started, ends, owner, lease_until) "
            "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)",
            run.id,
            run.tenant,
            run.apikey,
            orjson.dumps(run.doc).decode(),
            run.started,
            run.ends,
            run.owner,
            run.lease_until,
        )

    async def active_runs(self) -> list[RunRecord]:
        rows = await self.pool.fetch(f"SELECT {_COLUMNS} FROM testbed_runs ORDER BY started, id")
        return [
            RunRecord(r[0], r[1], r[2], orjson.loads(r[3]), r[4], r[5], r[6], r[7]) for r in rows
        ]

    async def claim_run(self, run_id: str, owner: str, now: float, until: float) -> bool:
        status = await self.pool.execute(
            "UPDATE testbed_runs SET owner = $1, lease_until = $2 "
            "WHERE id = $3 AND (owner = $1 OR lease_until < $4)",
            owner,
            until,
            run_id,
            now,
        )
        return bool(status != "UPDATE 0")

    async def add_run_events(self, events: Sequence[tuple[str, str, str, bytes]]) -> None:
        if events:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", EVENTS_LOCK)
                await conn.executemany(
                    "INSERT INTO testbed_run_events (tenant, run_id, kind, doc) "
                    "VALUES ($1, $2, $3, $4)",
                    events,
                )

    async def run_events(self, run_id: str, after: int = 0) -> list[tuple[int, str, bytes]]:
        rows = await self.pool.fetch(
            "SELECT seq, kind, doc FROM testbed_run_events WHERE run_id = $1 AND seq > $2 "
            "ORDER BY seq",
            run_id,
            after,
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def count_run_events(self, run_id: str, kind: str) -> int:
        count = await self.pool.fetchval(
            "SELECT count(*) FROM testbed_run_events WHERE run_id = $1 AND kind = $2",
            run_id,
            kind,
        )
        return int(count)

    async def finish_run(self, run: RunRecord, created_at: str, report: dict[str, Any]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO testbed_reports (tenant, id, created_at, doc) "
                "VALUES ($1, $2, $3, $4::jsonb) "
                "ON CONFLICT (tenant, id) DO UPDATE SET created_at = excluded.created_at, "
                "doc = excluded.doc",
                run.tenant,
                run.id,
                created_at,
                orjson.dumps(report).decode(),
            )
            await conn.execute("DELETE FROM testbed_run_events WHERE run_id = $1", run.id)
            await conn.execute("DELETE FROM testbed_runs WHERE id = $1", run.id)
