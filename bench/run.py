"""`make bench`: Dalgu's hot paths on a real server, each against a hello-world ceiling.

For each store (`sqlite`; `postgres` when the server at 127.0.0.1:5432 answers, in a fresh
`dalgu_bench_<pid>` database dropped afterwards): start `dalgu serve` pinned to the first core,
load N ~450-byte vehicles by batch upsert (1,000 per request, bodies encoded beforehand), then
drive it with `wrk -t1 -c32 --latency` pinned to the second core: GET by id, a type + q query
returning 100, a geoQ near query returning 100 (both also with one connection, for service
time without queueing, and with 32 clients each waiting a random think time between requests,
paced to half the rate the query reached at 32 connections: the latency clients meet below
saturation, where 32 connections without pause measure a full queue), single creates. The
ceiling is a bare ASGI hello-world on granian with the same settings, measured before and
after the stores. The server's peak RSS and PSS (workers included) is sampled throughout.
Everything started is stopped on exit, Ctrl-C, SIGTERM or when the time budget runs out;
every socket is on 127.0.0.1.

    .venv/bin/python bench/run.py [--entities 100000] [--duration 8] [--stores sqlite,postgres]
    .venv/bin/python bench/run.py --quick          # 10,000 entities, 3 s per scenario

Prints a markdown table for docs/benchmarks.md; writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from databases import cancel_queries, create_database, drop_database, postgres_answers
from loadgen import TIMEOUT_S, Measurement, batch_upsert, wrk
from processes import (
    ROOT,
    BenchTimeout,
    Server,
    commit,
    cores,
    dalgu_command,
    dalgu_env,
    free_port,
    granian_command,
    guard,
    stop_all,
)
from vehicles import batches, near_query, speed_query, vehicle_id

RESULTS = ROOT / "bench" / "results"
STORES = ("sqlite", "postgres")
SLOW_QUERY_S = 1.0
ALONE_TIMEOUT_S = 60.0
PACED_CLIENTS = 32  # the paced runs' clients, each waiting a random think time between requests
PACED_SHARE = 0.5  # of the rate the query reached with 32 connections and no think time


def hello_world(duration: int, server_core: int, client_core: int, logs: Path) -> Measurement:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = Server(
        "hello-world",
        granian_command("bench.hello:app", port),
        {},
        url,
        server_core,
        logs / "hello.log",
    )
    try:
        return wrk(url, duration, client_core)
    finally:
        server.stop()


def run_store(
    store: str, args: argparse.Namespace, server_core: int, client_core: int
) -> list[dict[str, Any]]:
    """Load and measure one store; rows of the results table (ratio filled in later)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"dalgu-bench-{store}-"))
    port = free_port()
    env = dalgu_env(store, port, tmp / "bench.db")
    dsn = None
    try:
        if store == "postgres":
            dsn = env["DALGU_POSTGRES_DSN"] = create_database()
        base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
        server = Server(
            f"dalgu ({store})",
            dalgu_command(),
            env,
            f"{base}/types",
            server_core,
            tmp / "server.log",
        )
        try:
            return _measure(server, base, args, client_core, store, dsn)
        except Exception:
            print(
                f"--- last lines of the {store} server's log:\n{server.log_tail()}", file=sys.stderr
            )
            raise
        finally:
            server.stop()
    finally:
        if dsn is not None:
            drop_database(dsn)
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(
    server: Server, base: str, args: argparse.Namespace, core: int, store: str, dsn: str | None
) -> list[dict[str, Any]]:
    n = args.entities
    bodies = batches(n)
    loaded = asyncio.run(batch_upsert(base, bodies, n))
    del bodies
    rss_loaded = server.rss()
    rows = [_row("batch upsert, 1,000 entities per request", 1, loaded, "entities/s")]
    if httpx.get(f"{base}/entities/{vehicle_id(n - 1)}").status_code != 200:
        raise RuntimeError("the last loaded entity is not readable")
    q_url = f"{base}/entities?type=Vehicle&q={quote(speed_query(n), safe='')}&limit=100"
    near_url = f"{base}/entities?type=Vehicle&{near_query(n)}&limit=100"
    single = {url: _one_query(url) for url in (q_url, near_url)}
    if dsn is not None and math.inf in single.values():
        cancel_queries(dsn)  # PostgreSQL would go on with it, stealing the cores from what follows
    wrk_env = {"BENCH_ENTITIES": str(n), "BENCH_RUN": f"{os.getpid()}-{store}"}
    scenarios = [
        ("GET entity by id (random of the loaded)", f"{base}/entities/x", "get.lua", 32),
        (f"query type=Vehicle&q={speed_query(n)}, 100 results", q_url, None, 32),
        ("geoQ near;maxDistance==400, 100 results", near_url, None, 32),
        (f"query type=Vehicle&q={speed_query(n)}, 100 results", q_url, None, 1),
        ("geoQ near;maxDistance==400, 100 results", near_url, None, 1),
        ("single create (POST /entities)", f"{base}/entities", "create.lua", 32),
    ]
    saturated: dict[str, float] = {}  # a query's req/s at 32 connections
    for name, url, script, connections in scenarios:
        alone = single.get(url, 0.0)
        if alone > SLOW_QUERY_S:
            # driving it would queue minutes of work that outlive the wrk run and spoil the next
            if math.isinf(alone):
                note = f"one request alone got no answer within {ALONE_TIMEOUT_S:.0f} s"
                measured = Measurement(0.0, math.nan, math.nan, 0, 1)
            else:
                note = f"one request alone took {alone:.1f} s: not driven with wrk"
                measured = Measurement(1 / alone, alone * 1000, alone * 1000, 1, 0)
            rows.append(_row(name, connections, measured, "req/s", note))
            continue
        settled = _settle(f"{base}/entities/{vehicle_id(0)}")
        measured = wrk(
            url, args.duration, core, script=script, connections=connections, env=wrk_env
        )
        note = "" if settled else "the server was still busy with earlier requests"
        rows.append(_row(name, connections, measured, "req/s", note))
        _report(store, name, connections, measured)
        if url in single and connections > 1:
            saturated[url] = measured.rate
        if url in single and connections == 1 and saturated.get(url, 0) > 0:
            # the same clients, each thinking between requests: half the saturated rate
            think_ms = 1000 * PACED_CLIENTS / (PACED_SHARE * saturated[url])
            _settle(f"{base}/entities/{vehicle_id(0)}")
            paced = wrk(
                url,
                args.duration,
                core,
                script="paced.lua",
                connections=PACED_CLIENTS,
                env={**wrk_env, "BENCH_THINK_MS": f"{think_ms:.1f}"},
            )
            label = f"{name}, paced at half the 32-connection rate"
            rows.append(_row(label, PACED_CLIENTS, paced, "req/s"))
            _report(store, label, PACED_CLIENTS, paced)
    for row in rows:
        row.update(
            store=store,
            rss_mib=server.peak / 2**20,
            pss_mib=server.peak_pss / 2**20,
            rss_loaded_mib=rss_loaded / 2**20,
        )
    return rows


def _report(store: str, name: str, connections: int, measured: Measurement) -> None:
    print(
        f"  {store}: {name} (-c{connections}): {measured.rate:,.0f}/s, p99 {measured.p99:.2f} ms",
        file=sys.stderr,
    )


def _row(
    scenario: str, connections: int, m: Measurement, unit: str, note: str = ""
) -> dict[str, Any]:
    row = {"scenario": scenario, "connections": connections, "unit": unit, **m.as_dict()}
    if m.requests == 0:
        note = note or f"no request completed within {TIMEOUT_S} s"
    return {**row, "note": note}


def _one_query(url: str) -> float:
    """Seconds for the query alone (inf past a minute); it must return exactly 100 entities."""
    started = time.perf_counter()
    try:
        response = httpx.get(url, timeout=ALONE_TIMEOUT_S)
    except httpx.TimeoutException:
        return math.inf
    elapsed = time.perf_counter() - started
    found = response.json() if response.status_code == 200 else []
    if len(found) != 100:
        raise RuntimeError(f"{url} answered {response.status_code} with {len(found)}, not 100")
    return elapsed


def _settle(probe: str, within: float = 180) -> bool:
    """Wait until the server answers its cheapest request quickly: earlier load has drained."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            answered = httpx.get(probe, timeout=within).status_code == 200
        except httpx.HTTPError:
            answered = False
        if answered and time.perf_counter() - started < 0.05:
            return True
        time.sleep(0.5)
    return False


def markdown(rows: list[dict[str, Any]], ceiling: float) -> str:
    lines = [
        "| store | scenario | conns | rate | p50 ms | p99 ms | ratio to hello-world | errors "
        "| server peak RSS MiB | peak PSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r['rate'] / ceiling:.2f}" if r["unit"] == "req/s" and r["requests"] else "—"
        scenario = f"{r['scenario']} ({r['note']})" if r["note"] else r["scenario"]
        rate = f"{r['rate']:,.{0 if r['rate'] >= 10 else 1}f} {r['unit']}"
        lines.append(
            f"| {r['store']} | {scenario} | {r['connections']} | {rate} "
            f"| {_ms(r['p50'])} | {_ms(r['p99'])} | {ratio} | {r['errors']} | {r['rss_mib']:.0f} "
            f"| {r['pss_mib']:.0f} |"
        )
    return "\n".join(lines)


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}"


def default_budget(entities: int, duration: int, stores: int) -> int:
    """Generous bounds: start-up, a load at ≥ 500 entities/s, each wrk run, slow queries."""
    per_store = 90 + entities // 500 + 8 * (duration + 20) + 2 * int(ALONE_TIMEOUT_S) + 180
    return 120 + stores * per_store + 2 * (duration + 40)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--entities", type=int, default=100_000, help="entities to load (default 100,000)"
    )
    parser.add_argument(
        "--duration", type=int, default=8, help="seconds per wrk scenario (default 8)"
    )
    parser.add_argument(
        "--stores", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 10,000 entities, 3 s")
    parser.add_argument("--budget", type=int, help="seconds before the whole run is stopped")
    args = parser.parse_args()
    if args.quick:
        args.entities, args.duration = 10_000, 3
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if unknown := set(stores) - set(STORES):
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}")
    if args.entities < 1000:
        parser.error("--entities must be at least 1,000 (the queries need 100 results)")
    server_core, client_core = cores()
    os.sched_setaffinity(0, {client_core})  # the harness stays off the server's core
    guard(args.budget or default_budget(args.entities, args.duration, len(stores)))
    if shutil.which("wrk") is None:
        subprocess.run(["bash", str(ROOT / "scripts" / "bench-deps.sh")], check=True, timeout=600)
    skipped = {}
    if "postgres" in stores and not postgres_answers():
        stores.remove("postgres")
        skipped["postgres"] = "no server answering at 127.0.0.1:5432"
    rows: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    logs = Path(tempfile.mkdtemp(prefix="dalgu-bench-hello-"))
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    try:
        before = hello_world(args.duration, server_core, client_core, logs)
        print(f"  hello-world: {before.rate:,.0f} req/s", file=sys.stderr)
        for store in stores:
            try:
                rows += run_store(store, args, server_core, client_core)
            except (
                RuntimeError,
                OSError,
                ValueError,
                httpx.HTTPError,
                subprocess.SubprocessError,
            ) as exc:
                failed[store] = str(exc)
                print(f"  {store}: FAILED: {exc}", file=sys.stderr)
        after = hello_world(args.duration, server_core, client_core, logs)
    finally:
        stop_all()
        shutil.rmtree(logs, ignore_errors=True)
    ceiling = (before.rate + after.rate) / 2
    for row in rows:
        row["ratio"] = row["rate"] / ceiling if row["unit"] == "req/s" else None
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpu = platform.processor() or platform.machine()
    elapsed = time.monotonic() - started
    load = f"load average {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    print(f"\n{when}, commit {commit()}, {os.cpu_count()} cores ({cpu}), {elapsed:.0f} s in all;")
    print(f"{load} (other work on the machine skews every figure; the ceiling shows how much).")
    print(f"{args.entities:,} entities loaded, {args.duration} s per wrk scenario.")
    print(
        f"Ceiling (bare ASGI hello-world, granian, 1 worker): {before.rate:,.0f} req/s before the "
        f"stores, {after.rate:,.0f} after (ratios use the mean, {ceiling:,.0f}); "
        f"p50 {before.p50:.2f} ms, p99 {before.p99:.2f} ms.\n"
    )
    print(markdown(rows, ceiling))
    for store, reason in {**skipped, **failed}.items():
        print(f"\n{store}: {'skipped' if store in skipped else 'FAILED'}: {reason}")
    RESULTS.mkdir(exist_ok=True)
    report = {
        "date": when,
        "commit": commit(),
        "entities": args.entities,
        "duration_s": args.duration,
        "load_average": {"start": load_before, "end": os.getloadavg()[0]},
        "ceiling": {"before": before.as_dict(), "after": after.as_dict(), "mean_rate": ceiling},
        "rows": rows,
        "skipped": skipped,
        "failed": failed,
    }
    (RESULTS / "latest.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: every server started has been stopped", file=sys.stderr)
        sys.exit(130)
    except BenchTimeout as exc:
        print(f"\n{exc}: every server started has been stopped", file=sys.stderr)
        sys.exit(124)
