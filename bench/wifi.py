"""The Wi-Fi sweep at a city's scale, in process, on each store.

    .venv/bin/python bench/wifi.py [--access-points 10000] [--sweeps 10] [--stores sqlite,postgres]

Loads `--access-points` Smart Data Models access points (five per zone, in Daegu) through the
entity service, then times:

- the **ceiling**: the sweep's two reads alone (every access point and zone, by type), the
  least a sweep can cost on that store;
- the **first sweep**, which writes every unit's `reachable` and every zone's status;
- `--sweeps` **steady sweeps**, each after 5 % of the units reported new client counts and
  1 % fell silent (their reports aged past the silence limit), so a few zones change;
- `GET /wifi/zones`' read (`WifiService.state`) and the coverage GeoJSON.

Prints units swept per second, p50/p99 of the steady sweeps, each as a ratio to the ceiling,
and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.ldcontext.resolver import core_terms
from dalgu.settings import Settings
from dalgu.store.factory import open_store
from dalgu.wifi import vocabulary as v
from dalgu.wifi.service import WifiService
from databases import create_database, drop_database, postgres_answers

PER_ZONE = 5
SILENCE = 300.0


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def fleet(count: int, now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for z in range(max(1, count // PER_ZONE)):
        lon, lat = 128.50 + rng.random() * 0.2, 35.80 + rng.random() * 0.13
        zone = f"urn:ngsi-ld:WifiPointOfInterest:bench-{z}"
        out.append(
            {
                "id": zone,
                "type": v.SDM + "WifiPointOfInterest",
                "https://smartdatamodels.org/name": {"type": "Property", "value": f"Zone {z}"},
                "location": {
                    "type": "GeoProperty",
                    "value": {"type": "Point", "coordinates": [lon, lat]},
                },
            }
        )
        for n in range(PER_ZONE):
            out.append(
                {
                    "id": f"urn:ngsi-ld:AccessPoint:bench-{z}-{n}",
                    "type": v.SDM + "AccessPoint",
                    v.SDM + "apState": {"type": "Property", "value": "up"},
                    v.SDM + "clientsConnected": {
                        "type": "Property",
                        "value": rng.randint(0, 40),
                        "observedAt": iso(now),
                    },
                    v.SDM + "refPointOfInterest": {"type": "Relationship", "object": zone},
                    "location": {
                        "type": "GeoProperty",
                        "value": {"type": "Point", "coordinates": [lon + n * 1e-4, lat]},
                    },
                }
            )
    return out


def reports(units: list[str], now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """5 % of the units report fresh counts, 1 % report an old time (they fell silent)."""
    changed = rng.sample(units, max(1, len(units) // 20))
    silent = set(rng.sample(changed, max(1, len(units) // 100)))
    return [
        {
            "id": unit,
            "type": v.SDM + "AccessPoint",
            v.SDM + "clientsConnected": {
                "type": "Property",
                "value": rng.randint(0, 40),
                "observedAt": iso(now - timedelta(seconds=SILENCE * 2) if unit in silent else now),
            },
        }
        for unit in changed
    ]


async def run(store_name: str, count: int, sweeps: int, dsn: str | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="dalgu-bench-wifi-"))
    settings = Settings.load(
        store=store_name, sqlite_path=tmp / "wifi.db", **({"postgres_dsn": dsn} if dsn else {})
    )
    store = open_store(settings)
    service = EntityService(store)
    await store.open()
    try:
        terms = core_terms()
        rng = random.Random(5)
        now = datetime.now(UTC)
        stamp = iso(now)
        made = [parse_entity(e, terms, stamp) for e in fleet(count, now, rng)]
        for start in range(0, len(made), 1000):
            await service.batch_upsert("", made[start : start + 1000], "replace")
        units = [e["id"] for e in made if "AccessPoint" in e["type"][0]]
        wifi = WifiService(service, silence=SILENCE, radius=50.0, capacity=50)

        ceiling: list[float] = []
        for _ in range(3):
            began = time.perf_counter()
            await wifi.entities_of("", v.ACCESS_POINT)
            await wifi.entities_of("", v.ZONE)
            ceiling.append(time.perf_counter() - began)
        floor = statistics.median(ceiling)

        began = time.perf_counter()
        first = await wifi.sweep("")
        first_time = time.perf_counter() - began

        steady: list[float] = []
        written = 0
        for _ in range(sweeps):
            now = datetime.now(UTC)
            fresh = [parse_entity(e, terms, iso(now)) for e in reports(units, now, rng)]
            await service.batch_upsert("", fresh, "update")
            began = time.perf_counter()
            done = await wifi.sweep("", now)
            steady.append(time.perf_counter() - began)
            written += len(done.written)

        began = time.perf_counter()
        state = await wifi.state("")
        read_time = time.perf_counter() - began
        began = time.perf_counter()
        await wifi.coverage("")
        coverage_time = time.perf_counter() - began
    finally:
        await store.close()

    p50 = statistics.median(steady)
    p99 = sorted(steady)[min(len(steady) - 1, round(0.99 * (len(steady) - 1)))]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    zones = len(state.zones)
    print(
        f"| {store_name} | {len(units):,} units, {zones:,} zones | ceiling (two reads) "
        f"{floor * 1000:.0f} ms = {len(units) / floor:,.0f} units/s | first sweep "
        f"{first_time * 1000:.0f} ms ({len(first.written):,} written) | steady sweep p50 "
        f"{p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms = {len(units) / p50:,.0f} units/s, "
        f"{floor / p50:.2f} of the ceiling ({written / max(1, sweeps):.0f} written each) | "
        f"state {read_time * 1000:.0f} ms, coverage {coverage_time * 1000:.0f} ms | "
        f"peak RSS {rss:.0f} MiB |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--access-points", type=int, default=10_000)
    parser.add_argument("--sweeps", type=int, default=10)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    for store in args.stores.split(","):
        if store == "postgres" and not postgres_answers():
            print("postgres: not answering at 127.0.0.1:5432, skipped")
            continue
        dsn = create_database() if store == "postgres" else None
        try:
            asyncio.run(run(store, args.access_points, args.sweeps, dsn))
        finally:
            if dsn:
                drop_database(dsn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
