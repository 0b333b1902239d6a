"""Linked-entity `q` terms (clause 4.9, examples 13 and 14), in process, on each store.

    .venv/bin/python bench/linked_q.py [--store sqlite|postgres|both] [--stations 50000]

Loads `--stations` WeatherStations, each with a `sensor` Relationship to its own Device whose
`humidity` is 0..99 (1 % of devices per value), then times pages of 100 of

- `sensor{Device:humidity}==40` (one value: --stations / 100 targets, the same number of
  stations), and `sensor{Device:humidity}>=98` (twice as many);
- the ceiling: the same page asked without the link, `sensor=="id1","id2",…` listing the
  targets' ids (what the entity service turns the linked term into), so the ratio is the
  price of finding the targets.

Prints queries per second, p50/p99 per query, the ratio to the ceiling, and the peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import create_database, drop_database, postgres_answers
from dalgu.broker.model import now_iso
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.ldcontext import ContextResolver
from dalgu.query.ast import AttrPath, Comparison, QList, QValue, map_names, map_type_names
from dalgu.query.q import parse_q
from dalgu.query.typesel import parse_type_selection
from dalgu.store.base import EntityQuery, EntityStore

TENANT = "bench"


def _bodies(stations: int) -> list[list[dict[str, Any]]]:
    out: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    for n in range(stations):
        device = f"urn:ngsi-ld:Device:d{n:06d}"
        batch.append(
            {"id": device, "type": "Device", "humidity": {"type": "Property", "value": n % 100}}
        )
        batch.append(
            {
                "id": f"urn:ngsi-ld:WeatherStation:w{n:06d}",
                "type": "WeatherStation",
                "sensor": {"type": "Relationship", "object": device},
            }
        )
        if len(batch) >= 1000:
            out.append(batch)
            batch = []
    if batch:
        out.append(batch)
    return out


async def _timed(
    run: Callable[[], Awaitable[int]], seconds: float
) -> tuple[float, list[float], int]:
    times: list[float] = []
    found = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        t = time.perf_counter()
        found = await run()
        times.append(time.perf_counter() - t)
    return len(times) / (time.perf_counter() - began), times, found


async def _run(store: EntityStore, stations: int, seconds: float) -> list[str]:
    await store.open()
    try:
        service = EntityService(store)
        terms = ContextResolver().core
        now = now_iso()
        for body in _bodies(stations):
            await service.batch_upsert(
                TENANT, [parse_entity(e, terms, now) for e in body], "replace"
            )
        types = map_type_names(parse_type_selection("WeatherStation"), terms.expand)
        lines = []
        for text in ("sensor{Device:humidity}==40", "sensor{Device:humidity}>=98"):
            linked = EntityQuery(types=types, q=map_names(parse_q(text), terms.expand), limit=100)
            # the ceiling: the targets' ids listed by hand
            inner = text.split("humidity}", 1)[1]
            devices = await store.query(
                TENANT,
                EntityQuery(
                    types=map_type_names(parse_type_selection("Device"), terms.expand),
                    q=map_names(parse_q("humidity" + inner), terms.expand),
                    limit=10_000,
                ),
            )
            # the tree the entity service makes of the linked term (a text this long is past
            # q's length limit)
            ids = tuple(QValue("uri", e["id"]) for e in devices.entities)
            sensor = AttrPath(terms.expand("sensor"))
            listed = EntityQuery(types=types, q=Comparison(sensor, "==", QList(ids)), limit=100)

            def asking(query: EntityQuery) -> Callable[[], Awaitable[int]]:
                async def ask() -> int:
                    return len((await service.query(TENANT, query)).documents)

                return ask

            rate, times, found = await _timed(asking(linked), seconds)
            ceiling, ctimes, cfound = await _timed(asking(listed), seconds)
            assert found == cfound == min(100, len(devices.documents)), (found, cfound)
            p50, p99 = (statistics.quantiles(times, n=100)[i] * 1e3 for i in (49, 98))
            c50, c99 = (statistics.quantiles(ctimes, n=100)[i] * 1e3 for i in (49, 98))
            lines.append(
                f"| `{text}` ({len(devices.documents):,} targets) | {rate:,.0f}/s, "
                f"p50 {p50:.2f} ms, p99 {p99:.2f} ms | {ceiling:,.0f}/s, "
                f"p50 {c50:.2f} ms, p99 {c99:.2f} ms | "
                f"{rate / ceiling:.2f} |"
            )
        return lines
    finally:
        await store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--stations", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    if "postgres" in stores and not postgres_answers():
        stores.remove("postgres")
    with tempfile.TemporaryDirectory(prefix="dalgu-bench-linked-") as tmp:
        for name in stores:
            dsn = None
            if name == "postgres":
                from dalgu.store.postgres import PostgresEntityStore

                dsn = create_database()
                store: EntityStore = PostgresEntityStore(dsn)
            else:
                from dalgu.store.sqlite import SqliteEntityStore

                store = SqliteEntityStore(Path(tmp) / "linked.db")
            try:
                lines = asyncio.run(_run(store, args.stations, args.seconds))
            finally:
                if dsn is not None:
                    drop_database(dsn)
            print(f"## {name}: {args.stations:,} stations and as many devices, pages of 100")
            print("| query | linked term | ceiling: the ids listed | ratio |")
            print("|---|---|---|---|")
            print("\n".join(lines))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
