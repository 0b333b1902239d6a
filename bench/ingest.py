"""The batch write path in process, without HTTP: CPU and wall time per entity and instance.

On a shared, busy machine the end-to-end rates of `bench/run.py`, `bench/temporal.py` and
`bench/gateway.py` follow the load of others; the CPU this process spends per written entity
much less. Three workloads, each through `parse_entity` and `EntityService.batch_upsert`, the
path the API's and the gateway's batches take:

- create: `--vehicles` new `Vehicle` entities (`bench/vehicles.py`), 1,000 per batch, replace
  mode (what `bench/run.py`'s load does);
- update: the same vehicles again with a new speed and observedAt, update mode (a fleet feed);
- sensors: 1,000 sensors, batches of 500 readings, one `temperature` instance each, update
  mode (what `bench/temporal.py`'s ingest does), `--readings` batches.

CPU is this process's (user + system): on PostgreSQL the server's own CPU is not in it, so
its wall time is printed too. Ceiling: the same number of rows written straight into a plain
table of the same database (executemany on SQLite, COPY on PostgreSQL), wall time.

    .venv/bin/python bench/ingest.py [--store sqlite|postgres|both] [--vehicles 10000]
        [--readings 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import asyncpg
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import create_database, drop_database, postgres_answers
from bench.temporal import _batch as sensor_batch
from bench.vehicles import vehicle
from dalgu.broker.model import now_iso
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.collector import restore, settle
from dalgu.ldcontext import ContextResolver
from dalgu.settings import Settings
from dalgu.store.base import EntityStore


def _update(i: int, tick: int) -> dict[str, Any]:
    doc = vehicle(i)
    doc["speed"]["value"] = (i + tick) % 120
    doc["speed"]["observedAt"] = f"2026-11-25T08:{tick // 60 % 60:02d}:{tick % 60:02d}Z"
    return doc


async def _timed(
    service: EntityService,
    bodies: list[bytes],
    mode: Literal["replace", "update"],
) -> tuple[float, float, list[float]]:
    """(CPU seconds, wall seconds, wall seconds of each batch) of parsing and upserting every
    body."""
    terms = ContextResolver().core
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    batches = []
    for body in bodies:
        began = time.perf_counter()
        now = now_iso()
        items = [parse_entity(raw, terms, now) for raw in orjson.loads(body)]
        result = await service.batch_upsert("bench", items, mode)
        if result.errors:
            raise RuntimeError(f"batch failed: {result.errors[0]}")
        batches.append(time.perf_counter() - began)
    return time.process_time() - cpu, time.perf_counter() - wall, batches


async def _workloads(
    store: EntityStore, vehicles: int, readings: int
) -> dict[str, tuple[int, float, float, list[float]]]:
    await store.open()
    collector = settle(Settings().gc_young_threshold)  # as the server process
    try:
        service = EntityService(store)
        creates = [
            orjson.dumps([vehicle(i) for i in range(s, min(vehicles, s + 1000))])
            for s in range(0, vehicles, 1000)
        ]
        updates = [
            orjson.dumps([_update(i, 1) for i in range(s, min(vehicles, s + 1000))])
            for s in range(0, vehicles, 1000)
        ]
        sensors = [sensor_batch(1000, 500, tick) for tick in range(readings + 2)]
        out = {"create": (vehicles, *await _timed(service, creates, "replace"))}
        out["update"] = (vehicles, *await _timed(service, updates, "update"))
        await _timed(service, sensors[:2], "update")  # the sensors exist from here on
        out["sensors"] = (readings * 500, *await _timed(service, sensors[2:], "update"))
        return out
    finally:
        restore(collector)
        await store.close()


def _ceiling_sqlite(path: Path, rows: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE plain (entity_id TEXT, name TEXT, at TEXT, num REAL, doc BLOB)")
    data = [(f"urn:ngsi-ld:Sensor:{n % 1000}", "t", "2026-01-01", 1.0, b"{}") for n in range(rows)]
    began = time.perf_counter()
    for start in range(0, rows, 500):
        db.execute("BEGIN")
        db.executemany("INSERT INTO plain VALUES (?,?,?,?,?)", data[start : start + 500])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - began
    db.close()
    return rows / elapsed


async def _ceiling_postgres(dsn: str, rows: int) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE plain (entity_id text, name text, at timestamptz, num float8, doc bytea)"
        )
        at = time.time()
        from datetime import UTC, datetime

        stamp = datetime.fromtimestamp(at, UTC)
        data = [(f"urn:ngsi-ld:Sensor:{n % 1000}", "t", stamp, 1.0, b"{}") for n in range(rows)]
        began = time.perf_counter()
        for start in range(0, rows, 500):
            async with conn.transaction():
                await conn.copy_records_to_table("plain", records=data[start : start + 500])
        return rows / (time.perf_counter() - began)
    finally:
        await conn.close()


def _one_run(store_name: str, args: argparse.Namespace, work: Path, run: int) -> dict[str, Any]:
    make: Callable[[], EntityStore]
    dsn = None
    if store_name == "postgres":
        from dalgu.store.postgres import PostgresEntityStore

        dsn = create_database()
        make = lambda: PostgresEntityStore(dsn)  # noqa: E731
    else:
        from dalgu.store.sqlite import SqliteEntityStore

        path = work / f"run{run}.db"
        make = lambda: SqliteEntityStore(path)  # noqa: E731
    try:
        result: dict[str, Any] = asyncio.run(_workloads(make(), args.vehicles, args.readings))
        rows = args.readings * 500
        if dsn is not None:
            result["ceiling"] = asyncio.run(_ceiling_postgres(dsn, rows))
        else:
            result["ceiling"] = _ceiling_sqlite(work / f"plain{run}.db", rows)
        return result
    finally:
        if dsn is not None:
            drop_database(dsn)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--vehicles", type=int, default=10000)
    parser.add_argument("--readings", type=int, default=20, help="batches of 500 readings")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    if "postgres" in stores and not postgres_answers():
        stores.remove("postgres")
    with tempfile.TemporaryDirectory(prefix="dalgu-bench-ingest-") as tmp:
        for store_name in stores:
            runs = [_one_run(store_name, args, Path(tmp), n) for n in range(args.runs)]
            print(f"## {store_name}: {args.runs} runs (min–max; median)")
            for key, unit in (("create", "entity"), ("update", "entity"), ("sensors", "instance")):
                cpu = [r[key][1] / r[key][0] * 1e6 for r in runs]
                rate = [r[key][0] / r[key][2] for r in runs]
                batches = sorted(b for r in runs for b in r[key][3])
                p50 = batches[len(batches) // 2] * 1e3
                p99 = batches[min(len(batches) - 1, int(0.99 * len(batches)))] * 1e3
                print(
                    f"{key:8} CPU {min(cpu):6.1f}–{max(cpu):6.1f} µs/{unit} "
                    f"(median {statistics.median(cpu):.1f})   wall {min(rate):8,.0f}–"
                    f"{max(rate):8,.0f} {unit} per s (median {statistics.median(rate):,.0f})   "
                    f"batch p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                )
            ceilings = [r["ceiling"] for r in runs]
            rates = [r["sensors"][0] / r["sensors"][2] for r in runs]
            print(
                f"ceiling  plain rows {min(ceilings):,.0f}–{max(ceilings):,.0f}/s; sensors ratio "
                f"{min(r / c for r, c in zip(rates, ceilings, strict=True)):.2f}–"
                f"{max(r / c for r, c in zip(rates, ceilings, strict=True)):.2f}"
            )
            sys.stdout.flush()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (store, service and bodies in it): {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
