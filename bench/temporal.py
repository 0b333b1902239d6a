"""Temporal benchmarks: instance ingest through batch upsert, and aggregation over a history.

A real Dalgu server (pinned to one core) on each store; the load comes from this process,
pinned to the other core. Ingest: batches of `--batch` sensor readings POSTed to
/entityOperations/upsert by `--clients` (4) connections for `--seconds`; every reading is one stored
instance. Its ceiling, in the same run: the same rows written straight into a plain table of
the same database (COPY on PostgreSQL, executemany on SQLite), no broker in between.
Aggregation: `--sensors` x `--readings` instances (5 minutes apart) generated into the history
in SQL (generate_series on PostgreSQL, a recursive CTE on SQLite) and rolled up by hour with
the statement of the migration that backfills the rollups, then
`aggrMethods=avg,max&aggrPeriodDuration=PT1H` over 30 days for one sensor and for all sensors
of the type (limit=1000), which read the rollups; its ceiling is the hourly GROUP BY over the
instances written by hand against the same table.

    .venv/bin/python bench/temporal.py [--store sqlite|postgres|both] [--sensors 1000]
        [--readings 10000] [--seconds 10] [--batch 500] [--workers 1] [--clients 4]
        [--spread] [--fleet 1000]

`--workers N` (N > 1; PostgreSQL, the production shape): N server workers on both cores, the
load generator unpinned too (it then takes CPU from the server: a conservative figure), no
MQTT broker. SQLite always runs one worker (its single writer): pinned to one core by default,
or with `--spread` left on both cores with the load generator, as the embedded default runs on
a 2-core machine (its log checkpoints, a thread of the worker, and its notifier process then
need not wait for the worker's core).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import math
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import (
    backend_cpu_seconds,
    create_database,
    drop_database,
    postgres_answers,
)
from bench.loadgen import Poster
from bench.processes import Server, cores, free_port, guard, stop_all

V1 = "/ngsi-ld/v1"
SENSOR = "https://uri.etsi.org/ngsi-ld/default-context/Sensor"
TEMP = "https://uri.etsi.org/ngsi-ld/default-context/temperature"
START = datetime(2026, 1, 1, tzinfo=UTC)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _batch(sensors: int, size: int, tick: int) -> bytes:
    at = (START + timedelta(seconds=tick)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return orjson.dumps(
        [
            {
                "id": f"urn:ngsi-ld:Sensor:{(tick * size + n) % sensors}",
                "type": "Sensor",
                "temperature": {"type": "Property", "value": 10 + n % 17, "observedAt": at},
            }
            for n in range(size)
        ]
    )


async def ingest(
    base: str,
    sensors: int,
    size: int,
    seconds: float,
    cpu: Callable[[], float] | None = None,
    clients: int = 4,
    workers_cpu: Callable[[], dict[int, float]] | None = None,
    database_cpu: Callable[[], dict[int, float]] | None = None,
) -> dict[str, Any]:
    """Readings per second through batch upsert from `clients` connections; with `cpu` (the
    server's CPU seconds so far) also the server's CPU time per stored instance, and with
    `workers_cpu` each worker's share of the workers' CPU time (connections reach workers
    by the kernel's hash of their ports: few connections can load one worker more)."""
    bodies = [_batch(sensors, size, tick) for tick in range(64)]
    latencies: list[float] = []
    done = 0
    errors = 0
    deadline = time.perf_counter() + seconds
    url = f"{base}{V1}/entityOperations/upsert?options=update"
    parsed = urlsplit(url)
    target = f"{parsed.path}?{parsed.query}"
    headers = {"Content-Type": "application/json"}
    tick = 0

    async def client() -> None:
        nonlocal done, errors, tick
        poster = Poster(parsed.hostname or "127.0.0.1", parsed.port or 80)
        try:
            while time.perf_counter() < deadline:
                tick += 1
                began = time.perf_counter()
                status, _ = await poster.post(target, bodies[tick % 64], "application/json")
                latencies.append((time.perf_counter() - began) * 1000)
                if status < 300:
                    done += size
                else:
                    errors += 1
        finally:
            await poster.close()

    async with httpx.AsyncClient(timeout=60) as http:
        await http.post(url, content=bodies[0], headers=headers)  # create the sensors
        began = time.perf_counter()
        used = cpu() if cpu is not None else 0.0
        per_worker = workers_cpu() if workers_cpu is not None else {}
        own = time.process_time()
        backends = database_cpu() if database_cpu is not None else {}
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - began
        own = time.process_time() - own
        backends_after = database_cpu() if database_cpu is not None else {}
        used = cpu() - used if cpu is not None else math.nan
        after = workers_cpu() if workers_cpu is not None else {}
    spent = sorted((after[pid] - per_worker.get(pid, 0.0) for pid in after), reverse=True)
    split = [part / sum(spent) for part in spent] if sum(spent) > 0 else []
    return {
        "rate": done / elapsed,
        "cpu_us": used / max(done, 1) * 1e6,
        "client_cpu_us": own / max(done, 1) * 1e6,
        "database_cpu_us": (
            sum(t - backends.get(pid, 0.0) for pid, t in backends_after.items())
            / max(done, 1)
            * 1e6
            if database_cpu is not None
            else math.nan
        ),
        "p50": _pct(latencies, 0.5),
        "p99": _pct(latencies, 0.99),
        "errors": errors,
        "split": split,
    }


def _rows(count: int) -> list[tuple[Any, ...]]:
    at = START
    return [
        (
            "",
            f"urn:ngsi-ld:Sensor:{n % 1000}",
            TEMP,
            "",
            at,
            at,
            at,
            at,
            None,
            float(n % 17),
            None,
            b'{"type":"Property","value":1}',
        )
        for n in range(count)
    ]


async def ceiling_postgres(dsn: str, seconds: float, size: int) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE ceiling (LIKE instances INCLUDING DEFAULTS)")
        await conn.execute("CREATE INDEX ON ceiling (tenant, entity_id, name, at)")
        rows = _rows(size)
        columns = (
            "tenant",
            "entity_id",
            "name",
            "dataset",
            "at",
            "observed_at",
            "created_at",
            "modified_at",
            "deleted_at",
            "num",
            "txt",
            "doc",
        )
        done, deadline = 0, time.perf_counter() + seconds
        began = time.perf_counter()
        while time.perf_counter() < deadline:
            async with conn.transaction():
                await conn.copy_records_to_table("ceiling", columns=columns, records=rows)
            done += size
        rate = done / (time.perf_counter() - began)
        await conn.execute("DROP TABLE ceiling")
        return rate
    finally:
        await conn.close()


def ceiling_sqlite(path: Path, seconds: float, size: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE ceiling AS SELECT * FROM instances WHERE 0")
    db.execute("CREATE INDEX ceiling_key ON ceiling (tenant, entity_id, name, observed_at)")
    rows = [
        (
            r[0],
            r[1],
            r[2],
            r[3],
            r[4].isoformat(),
            r[5].isoformat(),
            r[6].isoformat(),
            r[7].isoformat(),
            r[9],
            r[11],
        )
        for r in _rows(size)
    ]
    done, deadline = 0, time.perf_counter() + seconds
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO ceiling (tenant, entity_id, name, dataset, at, observed_at, created_at, "
            "modified_at, num, doc) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.execute("COMMIT")
        done += size
    rate = done / (time.perf_counter() - began)
    db.execute("DROP TABLE ceiling")
    db.close()
    return rate


# --- a large history, loaded in SQL -------------------------------------------------------

_PG_LOAD = """
INSERT INTO instances (tenant, entity_id, name, dataset, at, observed_at, created_at,
    modified_at, num, doc)
SELECT 'bench', 'urn:ngsi-ld:Sensor:' || s, $1, '', t, t, t, t, 10 + (s + r) % 17,
    '{"type":"Property","value":1}'::bytea
FROM generate_series($2::int, $3::int) AS s,
     generate_series(0, $4::int - 1) AS r,
     LATERAL (SELECT $5::timestamptz + r * interval '5 minutes') AS x(t)
"""


async def load_postgres(dsn: str, sensors: int, readings: int) -> float:
    """Load the history; returns the seconds its hourly rollups took to build."""
    from dalgu.store.postgres.rollups import rebuild_rollups
    from dalgu.store.postgres.store import PostgresEntityStore

    store = PostgresEntityStore(dsn)
    await store.open()
    try:
        await store.add_instances("bench", "urn:ngsi-ld:Sensor:0", [SENSOR], {})
        async with store.pool.acquire() as conn:
            months = [START + timedelta(days=31 * m) for m in range(readings * 5 // 43200 + 2)]
            async with conn.transaction():
                from dalgu.store.postgres.partitions import month_of

                made = await store.partitions.ensure(conn, [month_of(m) for m in months])
            store.partitions.remember(made)
            await conn.execute(
                "INSERT INTO temporal_entities (tenant, id, types, created_at) "
                "SELECT 'bench', 'urn:ngsi-ld:Sensor:' || s, ARRAY[$1], now() "
                "FROM generate_series(0, $2 - 1) AS s ON CONFLICT DO NOTHING",
                SENSOR,
                sensors,
            )
            for first in range(0, sensors, 50):  # in slices: one transaction per 50 sensors
                last = min(first + 50, sensors) - 1
                await conn.execute(_PG_LOAD, TEMP, first, last, readings, START)
            began = time.perf_counter()
            await rebuild_rollups(conn, "bench")  # the migration's backfill, for one tenant
            rollups = time.perf_counter() - began
            await conn.execute("ANALYZE instances")
            await conn.execute("ANALYZE instance_hours")
            return rollups
    finally:
        await store.close()


_SQLITE_LOAD = """
WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n + 1 < :readings)
INSERT INTO instances (tenant, entity_id, name, at, observed_at, created_at, modified_at, num, doc)
SELECT 'bench', :entity, :name, t, t, t, t, 10 + (:sensor + n) % 17, :doc
FROM (SELECT n, strftime('%Y-%m-%dT%H:%M:%S.000000Z', :start, '+' || (n * 5) || ' minutes') AS t
      FROM r)
"""


def load_sqlite(path: Path, sensors: int, readings: int) -> float:
    """The history generated in SQL, one statement per sensor (as on PostgreSQL); returns the
    seconds its hourly rollups took to build."""
    from dalgu.store.sqlite.rollups import rebuild_rollups

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA cache_size=-262144")
    db.execute("BEGIN")
    db.executemany(
        "INSERT OR IGNORE INTO temporal_entities (tenant, id, types, created_at) "
        "VALUES ('bench', ?, ?, '2026-01-01T00:00:00.000000Z')",
        [(f"urn:ngsi-ld:Sensor:{s}", orjson.dumps([SENSOR])) for s in range(sensors)],
    )
    for s in range(sensors):
        db.execute(
            _SQLITE_LOAD,
            {
                "readings": readings,
                "entity": f"urn:ngsi-ld:Sensor:{s}",
                "name": TEMP,
                "sensor": s,
                "doc": b'{"type":"Property","value":1}',
                "start": START.strftime("%Y-%m-%d %H:%M:%S"),
            },
        )
        if s % 50 == 49:  # in slices: one transaction per 50 sensors
            db.execute("COMMIT")
            db.execute("BEGIN")
    db.execute("COMMIT")
    began = time.perf_counter()
    db.execute("BEGIN")
    rebuild_rollups(db, "bench")  # the migration's backfill, for one tenant
    db.execute("COMMIT")
    rollups = time.perf_counter() - began
    db.execute("ANALYZE")
    db.close()
    return rollups


def timed_get(base: str, params: dict[str, str], runs: int) -> dict[str, float]:
    latencies = []
    with httpx.Client(timeout=600) as http:
        for _ in range(runs):
            began = time.perf_counter()
            response = http.get(
                f"{base}{V1}/temporal/entities", params=params, headers={"NGSILD-Tenant": "bench"}
            )
            latencies.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
            if not response.json() or "temperature" not in response.json()[0]:
                raise RuntimeError(f"the aggregation answered no values: {response.text[:200]}")
    return {"p50": _pct(latencies, 0.5), "p99": _pct(latencies, 0.99), "runs": runs}


def month_query(one: bool) -> dict[str, str]:
    params = {
        "type": "Sensor",
        "attrs": "temperature",
        "timerel": "between",
        "timeAt": "2026-01-01T00:00:00Z",
        "endTimeAt": "2026-01-31T00:00:00Z",
        "options": "aggregatedValues",
        "aggrMethods": "avg,max",
        "aggrPeriodDuration": "PT1H",
        "limit": "1000",
    }
    if one:
        params["id"] = "urn:ngsi-ld:Sensor:7"
    return params


def ceiling_query_postgres(dsn: str, one: bool) -> float:
    sql = (
        "SELECT entity_id, date_bin('1 hour', at, $1), avg(num), max(num) FROM instances "
        "WHERE tenant = 'bench' AND name = $2 AND at >= $1 AND at < $3"
        + (" AND entity_id = 'urn:ngsi-ld:Sensor:7'" if one else "")
        + " GROUP BY 1, 2"
    )

    async def run() -> float:
        conn = await asyncpg.connect(dsn)
        try:
            began = time.perf_counter()
            await conn.fetch(sql, START, TEMP, START + timedelta(days=30))
            return (time.perf_counter() - began) * 1000
        finally:
            await conn.close()

    return min(asyncio.run(run()) for _ in range(3))


def ceiling_query_sqlite(path: Path, one: bool) -> float:
    db = sqlite3.connect(path)
    sql = (
        "SELECT entity_id, substr(observed_at, 1, 13), avg(num), max(num) FROM instances "
        "WHERE tenant = 'bench' AND name = ? AND observed_at >= ? AND observed_at < ?"
        + (" AND entity_id = 'urn:ngsi-ld:Sensor:7'" if one else "")
        + " GROUP BY 1, 2"
    )
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        db.execute(sql, (TEMP, "2026-01-01T00", "2026-01-31T00")).fetchall()
        best = min(best, (time.perf_counter() - began) * 1000)
    db.close()
    return best


def run(
    store: str, args: argparse.Namespace, work: Path, server_core: int, load_core: int
) -> dict[str, Any]:
    workers = args.workers if store == "postgres" else 1
    spread = workers > 1 or args.spread
    os.sched_setaffinity(0, {server_core, load_core} if spread else {load_core})
    server_cores: int | str = f"{server_core},{load_core}" if spread else server_core
    port = free_port()
    env = {
        "DALGU_PORT": str(port),
        "DALGU_HOST": "127.0.0.1",
        "DALGU_STORE": store,
        "DALGU_SQLITE_PATH": str(work / f"{store}.db"),
        "DALGU_WORKERS": str(workers),
    }
    if workers > 1:
        env["DALGU_MQTT_BROKER"] = "off"  # one embedded broker cannot serve several workers
    dsn = None
    if store == "postgres":
        dsn = create_database()
        env["DALGU_POSTGRES_DSN"] = dsn
    base = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {"store": store}
    try:
        server = Server(
            f"dalgu-{store}",
            [sys.executable, "-m", "dalgu", "serve"],
            env,
            f"{base}/health",
            server_cores,
            work / f"{store}.log",
        )
        result["ingest"] = asyncio.run(
            ingest(
                base,
                args.fleet,
                args.batch,
                args.seconds,
                server.cpu_seconds,
                args.clients,
                server.worker_cpu_seconds,
                None if dsn is None else functools.partial(backend_cpu_seconds, dsn),
            )
        )
        result["ingest"]["peak_rss_mb"] = server.peak / 2**20
        server.stop()
        if dsn is not None:
            result["ceiling"] = asyncio.run(ceiling_postgres(dsn, args.seconds, args.batch))
            began = time.perf_counter()
            result["rollup_s"] = asyncio.run(load_postgres(dsn, args.sensors, args.readings))
        else:
            result["ceiling"] = ceiling_sqlite(work / f"{store}.db", args.seconds, args.batch)
            began = time.perf_counter()
            result["rollup_s"] = load_sqlite(work / f"{store}.db", args.sensors, args.readings)
        result["load_s"] = time.perf_counter() - began
        server = Server(
            f"dalgu-{store}",
            [sys.executable, "-m", "dalgu", "serve"],
            env,
            f"{base}/health",
            server_cores,
            work / f"{store}-2.log",
        )
        timed_get(base, month_query(True), 2)  # warm the cache
        result["one"] = timed_get(base, month_query(True), 20)
        result["all"] = timed_get(base, month_query(False), 3)
        result["all"]["peak_rss_mb"] = server.peak / 2**20
        server.stop()
        if dsn is not None:
            result["one"]["ceiling"] = ceiling_query_postgres(dsn, True)
            result["all"]["ceiling"] = ceiling_query_postgres(dsn, False)
        else:
            result["one"]["ceiling"] = ceiling_query_sqlite(work / f"{store}.db", True)
            result["all"]["ceiling"] = ceiling_query_sqlite(work / f"{store}.db", False)
    finally:
        stop_all()
        if dsn is not None:
            drop_database(dsn)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--sensors", type=int, default=1000)
    parser.add_argument("--readings", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--budget", type=int, default=3600)
    parser.add_argument(
        "--workers", type=int, default=1, help="PostgreSQL server workers (>1: on both cores)"
    )
    parser.add_argument(
        "--spread",
        action="store_true",
        help="one worker, not pinned: the server and the load generator share both cores",
    )
    parser.add_argument(
        "--clients", type=int, default=4, help="concurrent connections posting batches"
    )
    parser.add_argument(
        "--fleet",
        type=int,
        default=1000,
        help="sensors the ingest's readings go to (1,000: every other batch meets the same "
        "500, whose rows it waits for)",
    )
    args = parser.parse_args()
    guard(args.budget)
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    if "postgres" in stores and not postgres_answers():
        stores.remove("postgres")
    with tempfile.TemporaryDirectory(prefix="dalgu-bench-temporal-") as tmp:
        server_core, load_core = cores()
        for store in stores:
            r = run(store, args, Path(tmp), server_core, load_core)
            i = r["ingest"]
            shape = (
                f", {args.workers} workers on both cores"
                if store == "postgres" and args.workers > 1
                else ", 1 worker on one core"
            )
            print(
                f"## {store}{shape}: {args.sensors} sensors x {args.readings} readings "
                f"(loaded in {r['load_s']:.0f} s, the hourly rollups {r['rollup_s']:.0f} s of it)"
            )
            print(
                f"ingest   {i['rate']:,.0f} instances/s  p50 {i['p50']:.1f} ms  "
                f"p99 {i['p99']:.1f} ms  errors {i['errors']}  peak RSS {i['peak_rss_mb']:.0f} MB  "
                f"ceiling {r['ceiling']:,.0f}/s  ratio {i['rate'] / r['ceiling']:.2f}  "
                f"server CPU {i['cpu_us']:.0f} µs/instance  "
                f"load generator CPU {i['client_cpu_us']:.1f} µs/instance"
            )
            if not math.isnan(i["database_cpu_us"]):
                print(f"PostgreSQL backends' CPU {i['database_cpu_us']:.0f} µs/instance")
            if len(i["split"]) > 1:
                shares = " / ".join(f"{share:.0%}" for share in i["split"])
                print(f"{args.clients} clients; the workers' CPU split {shares}")
            for key, label in (
                ("one", "one sensor, month hourly avg,max"),
                ("all", "all sensors, month hourly avg,max"),
            ):
                q = r[key]
                print(
                    f"{label}: p50 {q['p50']:.0f} ms  p99 {q['p99']:.0f} ms ({q['runs']} runs)"
                    f"  ceiling (bare SQL) {q['ceiling']:.0f} ms  ratio "
                    f"{q['p50'] / q['ceiling']:.1f}"
                )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
