"""Query shapes of a city of several entity types (session 39, outside tester's perf-1..4).

100,000 entities of five Smart Data Models shapes (`city_entities.py`, the tester's generator:
ids interleaved, each type's ids in one band of the id order), one Streetlight given a long
history. Each scenario is sent `--repeat` times, one after another, to a real `dalgu serve`
(one worker, pinned to the first core): p50/p99 wall, the worker's CPU per request, req/s,
the ratio of its p50 to the ceiling's (a GET by id on the same server, in the same run), and
the server's peak RSS.

    .venv/bin/python bench/query_shapes.py --save /tmp/city.db          # load once (SQLite)
    .venv/bin/python bench/query_shapes.py --db /tmp/city.db            # measure a copy of it
    PYTHONPATH=/tmp/old/src .venv/bin/python bench/query_shapes.py --db /tmp/city.db  # old code
    .venv/bin/python bench/query_shapes.py --db /tmp/city.db --in-process  # no server
    .venv/bin/python bench/query_shapes.py --store postgres --entities 100000 --history 100000

Ports: `--port` (default 21510) on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import orjson
import psutil

from city_entities import entity
from databases import create_database, drop_database
from loadgen import batch_upsert, percentile
from processes import Server, cores, dalgu_command, dalgu_env, guard, stop_all

BOX = "[[[128.40,35.70],[128.75,35.70],[128.75,35.99],[128.40,35.99],[128.40,35.70]]]"
# the same area, not a rectangle (a pentagon): the exact test, not the box's arithmetic
PENTAGON = (
    "[[[128.40,35.70],[128.75,35.70],[128.75,35.99],[128.575,36.05],[128.40,35.99],[128.40,35.70]]]"
)
LIGHT = "urn:ngsi-ld:Streetlight:s0000006"


def _within(shape: str, coordinates: str) -> str:
    return f"georel=within&geometry={shape}&coordinates={quote(coordinates, safe='')}"


SCENARIOS = {
    "type-first-AQO": "entities?type=AirQualityObserved&limit=1",
    "type-first-WO": "entities?type=WeatherObserved&limit=1",
    "type-WO-1000": "entities?type=WeatherObserved&limit=1000",
    "type-WO-q": f"entities?type=WeatherObserved&q={quote('temperature>30', safe='')}&limit=100",
    "within-100": f"entities?{_within('Polygon', BOX)}&limit=100",
    "within-100-count": f"entities?{_within('Polygon', BOX)}&limit=100&count=true",
    "within-type-100": f"entities?type=AirQualityObserved&{_within('Polygon', BOX)}&limit=100",
    "within-pentagon-100": f"entities?{_within('Polygon', PENTAGON)}&limit=100",
    "within-type-count": (
        f"entities?type=ParkingSpot&{_within('Polygon', BOX)}&limit=0&count=true"
    ),
    "near-20km-10": (
        "entities?type=ParkingSpot&limit=10&georel="
        + quote("near;maxDistance==20000", safe="")
        + "&geometry=Point&coordinates="
        + quote("[128.6,35.87]", safe="")
    ),
    "lastN-1": f"temporal/entities/{LIGHT}?attrs=illuminanceLevel&lastN=1",
    "lastN-10": f"temporal/entities/{LIGHT}?attrs=illuminanceLevel&lastN=10",
    # perf-8 and perf-11: a type's histories (one of them 100,000 instances long), and the
    # README's "fastest first" listing of histories ordered by a value
    "temporal-type-1000": (
        "temporal/entities?type=Streetlight&timerel=after&timeAt=2020-01-01T00:00:00Z"
        "&attrs=illuminanceLevel&limit=1000"
    ),
    # perf-6: filters that test each entity of a type (counts: every one of them)
    "q-compound-member": (
        "entities?type=WeatherObserved&q="
        + quote('address[addressLocality]=="Jung-gu"', safe="")
        + "&limit=100&count=true"
    ),
    "scope-subtree": f"entities?type=WeatherObserved&scopeQ={quote('/Daegu/#', safe='')}"
    "&count=true&limit=100",
    "q-neq": "entities?type=ParkingSpot&q="
    + quote('status!="free"', safe="")
    + "&limit=100&count=true",
    "keyValues-1000": "entities?type=WeatherObserved&options=keyValues&limit=1000",
    "temporal-order": (
        "temporal/entities?type=WeatherObserved&timerel=after&timeAt=2020-01-01T00:00:00Z"
        f"&timeproperty=modifiedAt&orderBy={quote('temperature;desc', safe='')}"
        "&attrs=temperature&lastN=1"
    ),
    # perf-7: orderBy with two keys at a deep offset, a deep single-key page, a sub-attribute
    "order-two-keys-deep": "entities?type=ParkingSpot&orderBy="
    + quote("status,width;desc", safe="")
    + "&limit=100&offset=10000",
    "order-deep": "entities?type=ParkingSpot&orderBy=width&limit=1000&offset=14000",
    "order-observedAt": "entities?type=ParkingSpot&orderBy="
    + quote("status.observedAt;desc", safe="")
    + "&limit=10",
}


def bodies(n: int) -> list[bytes]:
    return [
        orjson.dumps([entity(i) for i in range(s, min(n, s + 1000))]) for s in range(0, n, 1000)
    ]


def load_history(base: str, entity_id: str, n: int) -> None:
    """`n` instances of `illuminanceLevel`, observed every 10 s from 2026-11-01."""
    start = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    with httpx.Client(base_url=base, timeout=600) as client:
        for s in range(0, n, 5000):
            instances = [
                {
                    "type": "Property",
                    "value": (i % 100) / 100,
                    "observedAt": (start + datetime.timedelta(seconds=10 * i)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                }
                for i in range(s, min(n, s + 5000))
            ]
            r = client.post(
                f"/temporal/entities/{entity_id}/attrs",
                content=orjson.dumps({"illuminanceLevel": instances}),
                headers={"Content-Type": "application/json"},
            )
            if r.status_code >= 300:
                raise RuntimeError(f"history: {r.status_code} {r.text[:300]}")


def worker_cpu(server: Server) -> float:
    try:
        for child in psutil.Process(server.process.pid).children(recursive=True):
            if "notifier" not in " ".join(child.cmdline()):
                return float(sum(child.cpu_times()[:2]))
    except psutil.Error:
        pass
    return 0.0


def measure(server: Server, url: str, repeat: int) -> tuple[list[float], float, int, str]:
    """Wall times (ms), worker CPU per request (ms), the status, a digest of the answer."""
    walls = []
    with httpx.Client(timeout=600) as client:
        client.get(url)  # warm the caches
        cpu = worker_cpu(server)
        for _ in range(repeat):
            t = time.perf_counter()
            r = client.get(url)
            walls.append((time.perf_counter() - t) * 1000)
        used = (worker_cpu(server) - cpu) * 1000 / repeat
    body = r.json()
    shape = f"{len(body)} items" if isinstance(body, list) else f"{len(str(body))} chars"
    count = r.headers.get("NGSILD-Results-Count")
    if count is not None:
        shape += f", count {count}"
    return walls, used, r.status_code, shape


def in_process(db: Path, names: list[str], repeat: int) -> None:
    """Each scenario through the app in this process (Starlette's test client): no HTTP
    server, no other process; wall and CPU time per request."""
    from starlette.testclient import TestClient

    from dalgu.api.app import build_app
    from dalgu.settings import Settings

    settings = Settings.load(
        sqlite_path=db,
        mqtt_broker="off",
        iot_north_port=0,
        iot_south_port=0,
        coap_port=0,
        notifier="inline",
        gc_freeze=False,
    )
    with TestClient(build_app(settings)) as client:
        rows = []
        for name in ["ceiling", *names]:
            url = (
                f"/ngsi-ld/v1/{SCENARIOS[name]}"
                if name != "ceiling"
                else f"/ngsi-ld/v1/entities/{LIGHT}"
            )
            client.get(url)
            walls, cpus = [], []
            for _ in range(repeat):
                t, c = time.perf_counter(), time.process_time()
                r = client.get(url)
                walls.append((time.perf_counter() - t) * 1000)
                cpus.append((time.process_time() - c) * 1000)
            rows.append(
                (
                    name,
                    r.status_code,
                    statistics.median(walls),
                    percentile(walls, 99),
                    statistics.median(cpus),
                )
            )
    floor = rows[0][2]
    print("| scenario (in process) | status | p50 ms | p99 ms | CPU ms p50 | × ceiling |")
    print("|---|---|---|---|---|---|")
    for name, status, p50, p99, cpu in rows:
        print(f"| {name} | {status} | {p50:.1f} | {p99:.1f} | {cpu:.1f} | {p50 / floor:,.0f} |")
    print(f"\npeak RSS of this process: {psutil.Process().memory_info().rss / 2**20:.0f} MiB (now)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--db", type=Path)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--port", type=int, default=21510)
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--in-process", action="store_true", help="through the app in this process (SQLite)"
    )
    args = parser.parse_args()
    server_core, client_core = cores()
    os.sched_setaffinity(0, {client_core})
    guard(3600)
    tmp = Path(tempfile.mkdtemp(prefix="dalgu-shapes-"))
    db = tmp / "city.db"
    if args.db is not None:
        shutil.copyfile(args.db, db)
    if args.in_process:
        try:
            in_process(db, args.scenarios.split(","), args.repeat)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return 0
    env = dalgu_env(args.store, args.port, db)
    env["DALGU_MQTT_BROKER"] = "off"
    dsn = None
    if args.store == "postgres":
        dsn = env["DALGU_POSTGRES_DSN"] = create_database()
    base = f"http://127.0.0.1:{args.port}/ngsi-ld/v1"
    try:
        started = time.perf_counter()
        server = Server(
            "dalgu", dalgu_command(), env, f"{base}/types", server_core, tmp / "server.log", 600
        )
        print(f"server up in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        if args.db is None:
            loaded = asyncio.run(batch_upsert(base, bodies(args.entities), args.entities))
            print(f"loaded {args.entities:,} at {loaded.rate:,.0f}/s", file=sys.stderr)
            load_history(base, LIGHT, args.history)
            print(f"history of {args.history:,} instances loaded", file=sys.stderr)
        if args.save is not None:
            server.stop()
            shutil.copyfile(db, args.save)
            print(f"saved {args.save}", file=sys.stderr)
            return 0
        ceiling, _, _, _ = measure(server, f"{base}/entities/{LIGHT}", max(args.repeat, 50))
        floor = statistics.median(ceiling)
        print(f"ceiling: GET /entities/{{id}} p50 {floor:.2f} ms\n")
        print("| scenario | answer | req/s | p50 ms | p99 ms | worker CPU ms/req | × ceiling |")
        print("|---|---|---|---|---|---|---|")
        for name in args.scenarios.split(","):
            walls, cpu, status, shape = measure(server, f"{base}/{SCENARIOS[name]}", args.repeat)
            p50 = statistics.median(walls)
            print(
                f"| {name} | {status}, {shape} | {1000 / statistics.mean(walls):,.1f} "
                f"| {p50:.1f} | {percentile(walls, 99):.1f} | {cpu:.1f} | {p50 / floor:,.0f} |",
                flush=True,
            )
        print(f"\npeak RSS of the server: {server.peak / 2**20:.0f} MiB; load {os.getloadavg()}")
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
        if dsn is not None:
            drop_database(dsn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
