"""The read path under growing load: GET by id, type + q and geoQ near at several connection
counts, each with the server's CPU time per request (what the load average cannot skew much);
`--scenarios rare` is a query by a type no entity has; `rare-attr`, `rare-scope`, `count`,
`count-q`, `types` and `attributes` are an attribute and a scope no entity has, a count by
type, a count by type and a `q` that half the vehicles match, and `/types` and `/attributes`
with `details=true`; `order` the ten fastest (`orderBy=speed;desc`), `order-text` the first ten
plates (`orderBy=licensePlateIdentifier`), `order-ties` ten of the last brand
(`orderBy=brandName;desc`) and `id-pattern` an
`idPattern` that is not anchored.

Starts `dalgu serve` (SQLite, or `--store postgres`; one worker) pinned to the first core,
loads N vehicles (or copies a database file loaded before, `--db`), then runs `wrk -t1 -c<n>`
pinned to the second core for each scenario and connection count. Prints a markdown table:
req/s, p50/p99, server CPU µs per request (the server's three processes' user+system time over
the run, divided by the requests), and the processes' peak RSS.

    .venv/bin/python bench/reads.py [--entities 100000] [--duration 5] [--connections 1,4,8,32]
    .venv/bin/python bench/reads.py --save /tmp/vehicles.db   # load once, keep the file
    .venv/bin/python bench/reads.py --db /tmp/vehicles.db     # start from a copy of it
    .venv/bin/python bench/reads.py --scenarios rare --connections 1,32
    .venv/bin/python bench/reads.py --db /tmp/vehicles.db --connections 1 \
        --scenarios rare-attr,rare-scope,count,count-q,types,attributes
    .venv/bin/python bench/reads.py --store postgres --entities 100000   # a fresh database,
                                                    # loaded and dropped (no --db or --save)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil

from databases import create_database, drop_database
from loadgen import batch_upsert, wrk
from processes import (
    Server,
    cores,
    dalgu_command,
    dalgu_env,
    free_port,
    granian_command,
    guard,
    memory_line,
    stop_all,
)
from vehicles import batches, near_query, speed_query, vehicle_id


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", default="1,4,8,32")
    parser.add_argument("--scenarios", default="get,q,near")
    parser.add_argument("--db", type=Path, help="start from a copy of this loaded database")
    parser.add_argument("--save", type=Path, help="keep a copy of the loaded database here")
    parser.add_argument("--hello", action="store_true", help="also the hello-world ceiling")
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    if args.store == "postgres" and (args.db is not None or args.save is not None):
        parser.error("--db and --save are SQLite files")
    server_core, client_core = cores()
    os.sched_setaffinity(0, {client_core})
    guard(1800)
    tmp = Path(tempfile.mkdtemp(prefix="dalgu-reads-"))
    db = tmp / "bench.db"
    if args.db is not None:
        shutil.copyfile(args.db, db)
    port = free_port()
    env = dalgu_env(args.store, port, db)
    dsn = None
    if args.store == "postgres":
        dsn = env["DALGU_POSTGRES_DSN"] = create_database()
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    n = args.entities
    load = os.getloadavg()
    try:
        server = Server(
            "dalgu",
            dalgu_command(),
            env,
            f"{base}/types",
            server_core,
            tmp / "server.log",
        )
        if args.db is None:
            loaded = asyncio.run(batch_upsert(base, batches(n), n))
            print(f"loaded {n:,} at {loaded.rate:,.0f} entities/s", file=sys.stderr)
        if args.save is not None:
            server.stop()
            shutil.copyfile(db, args.save)
            print(f"saved {args.save}", file=sys.stderr)
            return 0
        if httpx.get(f"{base}/entities/{vehicle_id(n - 1)}").status_code != 200:
            raise RuntimeError("the last vehicle is not readable")
        urls = {
            "get": (f"{base}/entities/x", "get.lua"),
            "q": (
                f"{base}/entities?type=Vehicle&q={quote(speed_query(n), safe='')}&limit=100",
                None,
            ),
            "near": (f"{base}/entities?type=Vehicle&{near_query(n)}&limit=100", None),
            # a type no entity has (as the Wi-Fi sweep asks every 30 s): not in the default set
            "rare": (f"{base}/entities?type=AccessPoint&limit=100", None),
            # neither in the default set: an attribute no entity has (as `attrs=temperature`
            # among vehicles), counts, and what a catalogue or dashboard asks of the city
            "rare-attr": (f"{base}/entities?attrs=wheelchairAccessible&limit=100", None),
            "count": (f"{base}/entities?type=Vehicle&count=true&limit=0", None),
            "count-q": (
                f"{base}/entities?type=Vehicle&q={quote('speed>=60', safe='')}&count=true&limit=0",
                None,
            ),
            "rare-scope": (f"{base}/entities?type=Vehicle&scopeQ=/Daegu/Suseong&limit=100", None),
            # an ordering by numbers and an id pattern that is not anchored (session 24)
            "order": (f"{base}/entities?type=Vehicle&orderBy=speed;desc&limit=10", None),
            # orderings by strings (session 25): unique plates, and five brands (ties)
            "order-text": (
                f"{base}/entities?type=Vehicle&orderBy=licensePlateIdentifier&limit=10",
                None,
            ),
            "order-ties": (f"{base}/entities?type=Vehicle&orderBy=brandName;desc&limit=10", None),
            "id-pattern": (
                f"{base}/entities?type=Vehicle&idPattern={quote('.*bench-00012.*', safe='')}",
                None,
            ),
            "types": (f"{base}/types?details=true", None),
            "attributes": (f"{base}/attributes?details=true", None),
        }
        for name in ("q", "near"):
            got = httpx.get(urls[name][0]).json()
            if len(got) != 100:
                raise RuntimeError(f"{name} gave {len(got)} entities, not 100")
        print(
            "| scenario | conns | req/s | p50 ms | p99 ms | server CPU µs/req "
            "| of which the worker |"
        )
        print("|---|---|---|---|---|---|---|")
        if args.hello:
            hello = Server(
                "hello-world",
                granian_command("bench.hello:app", hello_port := free_port()),
                {},
                f"http://127.0.0.1:{hello_port}/",
                server_core,
                tmp / "hello.log",
            )
            try:
                cpu = hello.cpu_seconds()
                m = wrk(f"http://127.0.0.1:{hello_port}/", args.duration, client_core)
                used = hello.cpu_seconds() - cpu
                print(
                    f"| hello-world | 32 | {m.rate:,.0f} | {m.p50:.2f} | {m.p99:.2f} "
                    f"| {used / max(m.requests, 1) * 1e6:,.0f} | |",
                    flush=True,
                )
            finally:
                hello.stop()
        wrk_env = {"BENCH_ENTITIES": str(n)}
        for name in args.scenarios.split(","):
            url, script = urls[name]
            for c in (int(x) for x in args.connections.split(",")):
                cpu, worker = server.cpu_seconds(), _worker_cpu(server)
                m = wrk(url, args.duration, client_core, script=script, connections=c, env=wrk_env)
                used, worker = server.cpu_seconds() - cpu, _worker_cpu(server) - worker
                per = 1e6 / max(m.requests, 1)
                print(
                    f"| {name} | {c} | {m.rate:,.0f} | {m.p50:.2f} | {m.p99:.2f} "
                    f"| {used * per:,.0f} | {worker * per:,.0f} |",
                    flush=True,
                )
        print("\n" + memory_line(server, load))
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
        if dsn is not None:
            drop_database(dsn)
    return 0


def _worker_cpu(server: Server) -> float:
    """CPU seconds of the granian worker (the child that is not the notifier)."""
    try:
        for child in psutil.Process(server.process.pid).children(recursive=True):
            if "notifier" not in " ".join(child.cmdline()):
                return float(sum(child.cpu_times()[:2]))
    except psutil.Error:
        pass
    return 0.0


if __name__ == "__main__":
    sys.exit(main())
