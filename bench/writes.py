"""The write scenarios of `bench/run.py` alone, with the server's CPU time per entity.

On a shared machine the rates follow the load of others; the CPU the server's processes spend
per written entity much less. For each store, a real server (`dalgu serve`, one worker, pinned
to one core), the load from the other core:

- batch upsert: `--entities` vehicles (`bench/vehicles.py`), 1,000 per request, one request at
  a time (what `bench/run.py` loads);
- single create: `wrk -c32` POST /entities of new vehicles (`bench/wrk/create.lua`) for
  `--duration` seconds, twice (the first on the loaded store, the second after it);
- small batches at once: `--clients` clients (8) each upserting its own vehicles, 100 per
  request, one request after another (feeds and gateways writing side by side).

Server CPU is user + system time of the server's process group (worker, supervisor and the
notifier process) over the scenario, divided by the entities it wrote; PostgreSQL's own CPU
is not in it.

    .venv/bin/python bench/writes.py [--stores sqlite,postgres] [--entities 20000]
        [--duration 5] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

import orjson

from databases import create_database, drop_database
from loadgen import Measurement, batch_upsert, wrk
from processes import Server, dalgu_command, dalgu_env, each_store, free_port, guard
from vehicles import batches, vehicle


def run_store(store: str, args: argparse.Namespace, server_core: int, client_core: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"dalgu-bench-writes-{store}-"))
    port = free_port()
    env = dalgu_env(store, port, tmp / "bench.db")
    dsn = None
    try:
        if store == "postgres":
            dsn = env["DALGU_POSTGRES_DSN"] = create_database()
        base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
        server = Server(
            f"dalgu ({store})", dalgu_command(), env, f"{base}/types", server_core, tmp / "log"
        )
        try:
            bodies = batches(args.entities)
            cpu = server.cpu_seconds()
            loaded = asyncio.run(batch_upsert(base, bodies, args.entities))
            per = (server.cpu_seconds() - cpu) / args.entities * 1e6
            print(
                f"{store}: batch upsert {loaded.rate:,.0f} entities/s, p50 {loaded.p50:.0f} ms, "
                f"p99 {loaded.p99:.0f} ms per 1,000; server CPU {per:.0f} µs/entity",
                flush=True,
            )
            for run in (1, 2):
                cpu = server.cpu_seconds()
                created = wrk(
                    f"{base}/entities",
                    args.duration,
                    client_core,
                    script="create.lua",
                    connections=32,
                    env={"BENCH_RUN": f"{os.getpid()}-{store}-{run}"},
                )
                per = (server.cpu_seconds() - cpu) / max(created.requests, 1) * 1e6
                print(
                    f"{store}: single create (-c32, run {run}) {created.rate:,.0f}/s, "
                    f"p50 {created.p50:.1f} ms, p99 {created.p99:.1f} ms, errors "
                    f"{created.errors}; server CPU {per:.0f} µs/create",
                    flush=True,
                )
            cpu = server.cpu_seconds()
            side = asyncio.run(_side_by_side(base, args.entities, args.clients))
            per = (server.cpu_seconds() - cpu) / args.entities * 1e6
            print(
                f"{store}: batches of 100 from {args.clients} clients at once {side.rate:,.0f} "
                f"entities/s, p50 {side.p50:.1f} ms, p99 {side.p99:.1f} ms per request; "
                f"server CPU {per:.0f} µs/entity",
                flush=True,
            )
        finally:
            server.stop()
    finally:
        if dsn is not None:
            drop_database(dsn)
        shutil.rmtree(tmp, ignore_errors=True)


async def _side_by_side(base: str, entities: int, clients: int) -> Measurement:
    """`clients` loaders at once, each its own share of `entities` new vehicles (numbered
    after the other scenarios'), 100 per request."""
    offset = 10_000_000
    share = entities // clients
    bodies = [
        [
            orjson.dumps([vehicle(offset + c * share + i) for i in range(s, min(share, s + 100))])
            for s in range(0, share, 100)
        ]
        for c in range(clients)
    ]
    started = time.perf_counter()
    done = await asyncio.gather(*(batch_upsert(base, b, share) for b in bodies))
    elapsed = time.perf_counter() - started
    latencies = sorted(m.p50 for m in done)  # each loader's median
    return Measurement(
        rate=share * clients / elapsed,
        p50=latencies[len(latencies) // 2],
        p99=max(m.p99 for m in done),
        requests=sum(m.requests for m in done),
        errors=0,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--entities", type=int, default=20000)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--clients", type=int, default=8, help="loaders of small batches")
    parser.add_argument("--budget", type=int, default=900)
    args = parser.parse_args()
    guard(args.budget)
    each_store(args.stores, lambda store, core, load: run_store(store, args, core, load))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
