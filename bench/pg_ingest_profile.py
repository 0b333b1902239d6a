"""The temporal ingest of `bench/temporal.py` on PostgreSQL, in process: where a batch goes.

`EntityService.batch_upsert` of the bench's batches (500 readings of 1,000 sensors, every
reading one stored instance) on a fresh database, no HTTP: 2 batches create the sensors, then
`batches` more run, `concurrency` at a time. Prints instances/s, the CPU of this process and
of the pool's PostgreSQL backends (`/proc/<pid>/stat`) per instance, and the server's WAL per
instance (every database of the server: other writers count too). Options:

- `--statements`: the time of each statement as this process waits for it, per instance;
- `--explain`: `auto_explain` on the pool's connections (analyze, buffers, WAL, sent to the
  client as notices; a superuser DSN): per statement its mean duration, WAL records and
  bytes (with full-page images) and shared buffer hits.

Instructions of this process (valgrind's callgrind), the same command with 0 and with K
batches; the difference over K x 500 is the count per instance:

    valgrind --tool=callgrind --callgrind-out-file=/tmp/p0 .venv/bin/python \\
        bench/pg_ingest_profile.py --batches 0        # then --batches 20
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import create_database, drop_database
from bench.temporal import _batch
from dalgu.broker.model import now_iso
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.collector import settle
from dalgu.ldcontext.resolver import ContextResolver
from dalgu.settings import Settings
from dalgu.store.postgres import PostgresEntityStore

_AUTO_EXPLAIN = (
    "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; "
    "SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on; "
    "SET auto_explain.log_wal = on; SET auto_explain.log_level = notice"
)
_PIDS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"


def _time_statements(stats: dict[str, list[float]]) -> None:
    connection = asyncpg.connection.Connection
    for name in ("execute", "fetch", "fetchval", "fetchrow", "copy_records_to_table"):
        original = getattr(connection, name)

        def timed(original: Callable[..., Any], name: str) -> Callable[..., Any]:
            async def call(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return await original(self, query, *args, **kwargs)
                finally:
                    entry = stats[f"{name}: {' '.join(query.split())[:60]}"]
                    entry[0] += 1
                    entry[1] += time.perf_counter() - began

            return call

        setattr(connection, name, timed(original, name))


def _explain_on_every_connection(notices: list[str]) -> None:
    create_pool = asyncpg.create_pool

    def pool(*args: Any, **kwargs: Any) -> Any:
        store_init = kwargs.pop("init", None)  # the store's own (its codecs): kept

        async def init(conn: Any) -> None:
            if store_init is not None:
                await store_init(conn)
            await conn.execute(_AUTO_EXPLAIN)

        async def setup(conn: Any) -> None:  # asyncpg drops listeners when a connection returns
            conn.add_log_listener(lambda _c, message: notices.append(message.message))

        return create_pool(*args, **kwargs, init=init, setup=setup)

    asyncpg.create_pool = pool
    # the listener is added again on every acquire; asyncpg warns when one is still there
    warnings.filterwarnings("ignore", category=asyncpg.InterfaceWarning)


def _cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _explained(notices: list[str], instances: int) -> None:
    totals: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0, 0, 0])
    for notice in notices:
        text = notice.split("Query Text:", 1)[-1].strip().split("\n")[:3]
        entry = totals[" ".join(" ".join(text).split())[:60]]
        duration = re.search(r"duration: ([\d.]+) ms", notice)
        wal = re.search(r"WAL: records=(\d+)(?: fpi=\d+)? bytes=(\d+)", notice)
        hits = re.search(r"Buffers: shared hit=(\d+)", notice)
        entry[0] += 1
        entry[1] += float(duration.group(1)) if duration else 0.0
        if wal:
            entry[2] += int(wal.group(1))
            entry[3] += int(wal.group(2))
        if hits:
            entry[4] += int(hits.group(1))
    for key, (count, ms, records, size, hit) in sorted(totals.items(), key=lambda t: -t[1][3]):
        print(
            f"{count:5.0f}x {ms / count:7.2f} ms  WAL {records / count:6.0f} records "
            f"{size / count / 1000:7.1f} kB  hits {hit / count:6.0f}  {key}"
        )
    print(f"WAL of the explained statements: {sum(t[3] for t in totals.values()) / instances:.0f}")


async def run(dsn: str, args: argparse.Namespace) -> None:
    stats: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    notices: list[str] = []
    if args.statements:
        _time_statements(stats)
    if args.explain:
        _explain_on_every_connection(notices)
    store = PostgresEntityStore(dsn)
    await store.open()
    settle(Settings().gc_young_threshold)  # as the server process
    try:
        service = EntityService(store)
        terms = ContextResolver().core
        bodies = [_batch(1000, 500, tick) for tick in range(64)]

        async def upsert(body: bytes) -> None:
            now = now_iso()  # once per request, as the API stamps a batch
            items = [parse_entity(raw, terms, now) for raw in orjson.loads(body)]
            result = await service.batch_upsert("", items, "update")
            if result.errors:
                raise RuntimeError(f"batch failed: {result.errors[0]}")

        await upsert(bodies[0])
        await upsert(bodies[1])
        async with store.pool.acquire() as conn:
            pids = [pid for (pid,) in await conn.fetch(_PIDS)]
            lsn = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
        stats.clear()
        notices.clear()
        backends = _cpu_seconds(pids)
        cpu, wall = time.process_time(), time.perf_counter()
        ticks = list(range(2, 2 + args.batches))

        async def client() -> None:
            while ticks:
                await upsert(bodies[ticks.pop(0) % 64])

        await asyncio.gather(*(client() for _ in range(args.concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        instances = max(1, args.batches * 500)
        async with store.pool.acquire() as conn:
            # backends opened during the run count from their start
            pids = sorted(set(pids) | {pid for (pid,) in await conn.fetch(_PIDS)})
            wal = await conn.fetchval(
                "SELECT (pg_current_wal_lsn() - $1::text::pg_lsn)::float8", lsn
            )
        backends = _cpu_seconds(pids) - backends
        print(
            f"{instances / wall:,.0f} instances/s; CPU per instance: this process "
            f"{cpu / instances * 1e6:.1f} µs, PostgreSQL backends "
            f"{backends / instances * 1e6:.1f} µs; server WAL {wal / instances:,.0f} B"
        )
        for key, (count, seconds) in sorted(stats.items(), key=lambda t: -t[1][1]):
            print(
                f"{seconds / instances * 1e6:8.1f} µs/instance {count:5.0f}x "
                f"{seconds / count * 1000:8.2f} ms  {key}"
            )
        if notices:
            _explained(notices, instances)
    finally:
        await store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--statements", action="store_true")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    dsn = create_database()
    try:
        asyncio.run(run(dsn, args))
    finally:
        drop_database(dsn)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
