"""One workload of `bench/ingest.py` on a fresh SQLite file, to be counted by callgrind.

On a busy shared machine time per entity moves by ±30% between identical runs; the number of
instructions the process runs does not. Run the same workload with K = 0 and K = n and divide
the difference by the entities or instances the n batches wrote:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/s0 .venv/bin/python \\
        bench/ingest_instructions.py sensors 0      # then `sensors 4`: 2,000 readings
    valgrind --tool=callgrind --callgrind-out-file=/tmp/u0 .venv/bin/python \\
        bench/ingest_instructions.py update 0       # then `update 2`: 1,000 updates
    grep -h totals /tmp/s0 /tmp/s4                 # or `callgrind_annotate`

Workloads: `sensors K` (2 batches of 500 readings create 1,000 sensors, then K batches of
500 readings), `create K` (500 vehicles, then K batches of 500 new ones), `update K` (500
vehicles, then K batches sending the same 500 again with a new speed and observedAt).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import _timed, _update, sensor_batch, vehicle
from dalgu.broker.service import EntityService
from dalgu.collector import restore, settle
from dalgu.settings import Settings
from dalgu.store.sqlite import SqliteEntityStore


async def run(workload: str, batches: int) -> None:
    with tempfile.TemporaryDirectory(prefix="dalgu-bench-count-") as tmp:
        store = SqliteEntityStore(Path(tmp) / "count.db")
        await store.open()
        collector = settle(Settings().gc_young_threshold)  # as the server process
        try:
            service = EntityService(store)
            if workload == "sensors":
                bodies = [sensor_batch(1000, 500, tick) for tick in range(2 + batches)]
                await _timed(service, bodies[:2], "update")
                await _timed(service, bodies[2:], "update")
                return
            creates = [
                orjson.dumps([vehicle(i) for i in range(start, start + 500)])
                for start in range(0, 500 * (1 + batches), 500)
            ]
            await _timed(service, creates[:1], "replace")
            if workload == "create":
                await _timed(service, creates[1:], "replace")
            else:
                again = orjson.dumps([_update(i, 1) for i in range(500)])
                await _timed(service, [again] * batches, "update")
        finally:
            restore(collector)
            await store.close()


def main() -> int:
    workload, batches = sys.argv[1], int(sys.argv[2])
    if workload not in ("sensors", "create", "update"):
        raise SystemExit("workload: sensors, create or update")
    asyncio.run(run(workload, batches))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
