"""The open-data portal: dataset downloads (CSV, GeoJSON, Parquet) and the CKAN Action API.

Starts `dalgu serve` (SQLite, or `--store postgres`; one worker) pinned to the first core with
an open-data token, loads N vehicles (or copies a database file loaded before, `--db`, as
`bench/reads.py --save` writes), and publishes one dataset over them (`Vehicle`: speed, brand,
vehicle type, location snapped to a 100 m grid; plates withheld). Then, from the second core:

1. each download whole, `--repeat` times, read as a client streams it: rows/s, MB/s, the time
   to the first byte, and the gaps between the chunks the server sends (p50/p99: a client's
   stall while the server reads the next page), with the server's CPU per row;
2. the download ceiling: a bare ASGI app on granian (`bench/hello.py:stream`) streaming the
   same number of bytes in as many chunks, read the same way; the download's ratio is its MB/s
   over the ceiling's;
3. with `--datasets` in the catalogue (1,000: a city portal's), `wrk -c32` on `package_show`,
   `package_search` (words, a tag), `package_list` and the DCAT catalogue, as a ratio to the
   hello-world (`bench/hello.py:app`) measured in the same run;
4. the peak RSS of the server's processes throughout.

    .venv/bin/python bench/opendata.py                        # 100,000 vehicles, SQLite
    .venv/bin/python bench/opendata.py --db /tmp/v.db         # start from a loaded copy
    .venv/bin/python bench/opendata.py --store postgres --entities 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from databases import create_database, drop_database
from loadgen import batch_upsert, percentile, wrk
from processes import (
    Server,
    commit,
    cores,
    dalgu_command,
    dalgu_env,
    free_port,
    granian_command,
    guard,
    memory_line,
    stop_all,
)
from vehicles import batches

TOKEN = "bench-token"
DATASET = {
    "name": "bench-vehicles",
    "title": "Vehicles (benchmark)",
    "entity_type": "Vehicle",
    "attributes": ["speed", "brandName", "vehicleType"],
    "geometry_attribute": "location",
    "withheld_attributes": ["licensePlateIdentifier"],
    "grid_metres": 100,
}


@dataclass(frozen=True, slots=True)
class Download:
    seconds: float
    first_byte_ms: float
    size: int
    chunks: int
    gap_p50_ms: float
    gap_p99_ms: float


def read_whole(url: str) -> Download:
    """GET `url` streamed to its end, timing the first byte and each gap between chunks."""
    gaps: list[float] = []
    size = chunks = 0
    with httpx.Client(timeout=600) as client:
        started = time.perf_counter()
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.read()!r}")
            first = last = None
            for chunk in response.iter_raw():
                now = time.perf_counter()
                if first is None:
                    first = now
                elif last is not None:
                    gaps.append((now - last) * 1000)
                last = now
                size += len(chunk)
                chunks += 1
        elapsed = time.perf_counter() - started
    return Download(
        seconds=elapsed,
        first_byte_ms=((first or started) - started) * 1000,
        size=size,
        chunks=chunks,
        gap_p50_ms=percentile(gaps, 50) if gaps else 0.0,
        gap_p99_ms=percentile(gaps, 99) if gaps else 0.0,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--repeat", type=int, default=2, help="downloads of each format")
    parser.add_argument("--formats", default="csv,geojson,parquet")
    parser.add_argument(
        "--datasets", type=int, default=1000, help="datasets in the catalogue the API serves"
    )
    parser.add_argument("--db", type=Path, help="start from a copy of this loaded database")
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    if args.store == "postgres" and args.db is not None:
        parser.error("--db is an SQLite file")
    server_core, client_core = cores()
    os.sched_setaffinity(0, {client_core})
    guard(3600)
    tmp = Path(tempfile.mkdtemp(prefix="dalgu-opendata-"))
    db = tmp / "bench.db"
    if args.db is not None:
        shutil.copyfile(args.db, db)
    port = free_port()
    env = {**dalgu_env(args.store, port, db), "DALGU_OPENDATA_TOKEN": TOKEN}
    dsn = None
    if args.store == "postgres":
        dsn = env["DALGU_POSTGRES_DSN"] = create_database()
    root = f"http://127.0.0.1:{port}"
    base = f"{root}/ngsi-ld/v1"
    portal = f"{root}/opendata"
    load = os.getloadavg()
    try:
        server = Server("dalgu", dalgu_command(), env, f"{base}/types", server_core, tmp / "s.log")
        n = args.entities
        if args.db is None:
            loaded = asyncio.run(batch_upsert(base, batches(n), n))
            print(f"loaded {n:,} at {loaded.rate:,.0f} entities/s", file=sys.stderr)
        else:
            got = httpx.get(f"{base}/entities?type=Vehicle&count=true&limit=0")
            n = int(got.headers["NGSILD-Results-Count"])
        created = httpx.post(
            f"{portal}/api/3/action/package_create",
            json=DATASET,
            headers={"Authorization": TOKEN},
        )
        if created.status_code != 200:
            raise RuntimeError(f"package_create answered {created.status_code}: {created.text}")
        name = DATASET["name"]
        print(f"commit {commit()}, {args.store}, {n:,} vehicles\n")
        print(
            "| download | rows/s | MB/s | size MB | first byte ms | gap p50 / p99 ms "
            "| server CPU µs/row | ratio to the ceiling |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for fmt in args.formats.split(","):
            url = f"{portal}/dataset/{name}/download/{name}.{fmt}"
            runs = []
            for _ in range(args.repeat):
                cpu = server.cpu_seconds()
                runs.append((read_whole(url), server.cpu_seconds() - cpu))
            best, used = min(runs, key=lambda r: r[0].seconds)
            ceiling = _stream_ceiling(best.size, best.chunks, server_core, tmp)
            rate = best.size / best.seconds
            print(
                f"| {fmt} | {n / best.seconds:,.0f} | {rate / 1e6:,.1f} | {best.size / 1e6:,.1f} "
                f"| {best.first_byte_ms:,.1f} | {best.gap_p50_ms:,.1f} / {best.gap_p99_ms:,.1f} "
                f"| {used / n * 1e6:,.1f} | {rate / (best.size / ceiling.seconds):.3f} |",
                flush=True,
            )
        for i in range(1, args.datasets):  # the benchmark's own is the first
            more = {**DATASET, "name": f"{name}-{i:05d}", "title": f"Dataset {i}"}
            more["tags"] = [{"name": f"tag{i % 20}"}]
            answer = httpx.post(
                f"{portal}/api/3/action/package_create", json=more, headers={"Authorization": TOKEN}
            )
            if answer.status_code != 200:
                raise RuntimeError(f"package_create answered {answer.status_code}: {answer.text}")
        hello_port = free_port()
        hello = Server(
            "hello-world",
            granian_command("bench.hello:app", hello_port),
            {},
            f"http://127.0.0.1:{hello_port}/",
            server_core,
            tmp / "hello.log",
        )
        try:
            ceiling_rate = wrk(f"http://127.0.0.1:{hello_port}/", args.duration, client_core).rate
        finally:
            hello.stop()
        print(
            f"\n| request (-c32), {args.datasets:,} datasets | req/s | p50 / p99 ms "
            f"| ratio to the hello-world ({ceiling_rate:,.0f} req/s) |"
        )
        print("|---|---|---|---|")
        action = f"{portal}/api/3/action"
        for label, url in (
            ("package_show", f"{action}/package_show?id={name}"),
            ("package_search", f"{action}/package_search?q=vehicles&rows=10"),
            ("package_search, one tag", f"{action}/package_search?fq=tags:tag3&rows=10"),
            (
                "package_search, a harvester's page (100, no words)",
                f"{action}/package_search?rows=100&start=500",
            ),
            ("package_list", f"{action}/package_list"),
            ("catalog.jsonld (its first page of 100)", f"{portal}/catalog.jsonld"),
        ):
            if httpx.get(url).status_code != 200:
                raise RuntimeError(f"{url} did not answer 200")
            m = wrk(url, args.duration, client_core)
            print(
                f"| {label} | {m.rate:,.0f} | {m.p50:.2f} / {m.p99:.2f} "
                f"| {m.rate / ceiling_rate:.3f} |",
                flush=True,
            )
        print("\n" + memory_line(server, load))
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
        if dsn is not None:
            drop_database(dsn)
    return 0


def _stream_ceiling(size: int, chunks: int, core: int, tmp: Path) -> Download:
    """The same bytes in as many chunks from a bare ASGI app on granian, read the same way."""
    port = free_port()
    stream = Server(
        "stream",
        granian_command("bench.hello:stream", port),
        {},
        f"http://127.0.0.1:{port}/",
        core,
        tmp / "stream.log",
    )
    try:
        return read_whole(f"http://127.0.0.1:{port}/?bytes={size}&chunks={max(chunks, 1)}")
    finally:
        stream.stop()


if __name__ == "__main__":
    sys.exit(main())
