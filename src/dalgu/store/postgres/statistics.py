"""Keep the planner's statistics in step with bulk writes.

The plans of `q` and `geoQ` queries depend on the statistics of the index tables. Right after a
bulk load (say 100,000 entities through batch upserts) the tables have none: the planner
expects one row from each `attr_num` range and picks a nested plan that visits millions of
rows (measured: 4.4 s at 10,000 entities, no answer in 60 s at 100,000; 19 ms after
`ANALYZE`). Autovacuum analyses eventually, but only after its naptime and thresholds, so the
first queries after a load would still run with no statistics.

`PlannerStatistics` counts the entities each process writes and, once they reach a share of
what the tables held at the last analysis, runs `ANALYZE` on the tables queries plan over, in
the background, one at a time. Requests never wait for it.

Analyses start at most once per `MIN_INTERVAL`: a steady feed of readings rewrites a small
table's entities over and over (1,000 sensors at 20,000 readings/s reached the threshold four
times a second, each `ANALYZE` 20-25 ms of the database's CPU, a tenth of what the ingest itself
cost it), while what a plan needs (statistics at all, at about the right size) is there after
the first one. When the threshold is reached sooner, the analysis waits for the interval to
end, so a bulk load is still analysed within `MIN_INTERVAL` of its last write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)

TABLES = ("entities", "attr_num", "attr_txt", "geo")
MIN_CHANGES = 5_000  # below this, a few stale rows do not change a plan
SHARE = 0.2  # re-analyse when writes reach 20% of the rows last analysed
MIN_INTERVAL = 10.0  # seconds from the start of one analysis to the start of the next


class PlannerStatistics:
    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._analysed_rows = 0
        self._changes = 0
        self._task: asyncio.Task[None] | None = None
        self._last_start: float | None = None  # event loop time of the last analysis

    async def start(self) -> None:
        """Read how many entities the last analysis saw (-1 when never analysed)."""
        rows = await self._pool.fetchval(
            "SELECT reltuples FROM pg_class WHERE relname = 'entities' AND relkind = 'r'"
        )
        self._analysed_rows = max(0, int(rows or 0))

    def wrote(self, entities: int) -> None:
        """Count `entities` written; start an ANALYZE when they add up."""
        self._changes += entities
        threshold = max(MIN_CHANGES, int(self._analysed_rows * SHARE))
        if self._changes >= threshold and (self._task is None or self._task.done()):
            self._changes = 0
            delay = 0.0
            if self._last_start is not None:
                delay = self._last_start + MIN_INTERVAL - asyncio.get_running_loop().time()
            self._task = asyncio.create_task(self._analyse(max(0.0, delay)))

    async def _analyse(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        self._last_start = asyncio.get_running_loop().time()
        self._changes = 0  # what was written while it waited is in this analysis
        try:
            async with self._pool.acquire() as conn:
                await conn.execute("ANALYZE " + ", ".join(TABLES))
                rows = await conn.fetchval(
                    "SELECT reltuples FROM pg_class WHERE relname = 'entities' AND relkind = 'r'"
                )
            self._analysed_rows = max(0, int(rows or 0))
            log.info("analysed %s: %d entities", ", ".join(TABLES), self._analysed_rows)
        except Exception:  # statistics are an optimisation: a failure must not reach a request
            log.exception("ANALYZE after bulk writes failed")

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
