"""FHIR benchmarks: Observation create rate (single and in transaction Bundles) and the
`Observation?patient=&code=&date=` search latency over many Observations, on each store.

A real Dalgu server (pinned to one core) on each store; the load comes from this process,
pinned to the other core. First `--observations` vital-sign Observations of `--patients`
patients (five LOINC codes, one every minute per patient) are loaded straight through the
store's own write path (`fhir_write` with the same ids and index rows the service makes, in
transactions of 1,000; no HTTP, no validation), then the server is started and measured:

- single creates: 4 concurrent clients POST one Observation each for `--seconds`;
- transaction Bundles: 4 concurrent clients POST Bundles of `--bundle` Observations;
- search: one client, `--searches` requests for one random patient's heart rates over one
  random hour (about 60 matches, the page is `_count=100`), then the same with 4 clients.

Every request is authorized (admin principal) and writes its AuditEvent, as in production.
Ceilings, measured in the same run: for writes, the same Observation bodies inserted into a
bare table (id, body) of the same database, batch by batch; for the search, the store's
`fhir_search` for the same queries called in process (SQL only: no HTTP, no audit).

    .venv/bin/python bench/fhir.py [--store sqlite|postgres|both] [--observations 1000000]
        [--patients 1000] [--seconds 10] [--bundle 100] [--searches 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import create_database, drop_database, postgres_answers
from bench.processes import Server, cores, free_port, guard, stop_all
from dalgu.fhir.ids import new_id
from dalgu.fhir.search import parse_search
from dalgu.fhir.searchparams import compartment_patient, index_rows
from dalgu.store.base import FhirWrite

LOINC = "http://loinc.org"
CODES = (("8867-4", "/min"), ("59408-5", "%"), ("9279-1", "/min"), ("8310-5", "Cel"))
CODES += (("8480-6", "mm[Hg]"),)
START = datetime(2025, 1, 1, tzinfo=UTC)
HEADERS = {"X-Dalgu-Role": "admin", "Content-Type": "application/fhir+json"}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def observation(patient: int, minute: int, code_index: int, value: float) -> dict[str, Any]:
    code, unit = CODES[code_index]
    at = (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/p{patient}"},
        "device": {"reference": f"Device/d{patient}"},
        "effectiveDateTime": at,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org"},
    }


def _nth(n: int, patients: int) -> dict[str, Any]:
    """The n-th Observation of the data set: patient, then code, then minute."""
    patient = n % patients
    code_index = (n // patients) % len(CODES)
    minute = n // (patients * len(CODES))
    return observation(patient, minute, code_index, 60 + n % 40)


def _write(n: int, patients: int) -> FhirWrite:
    resource = {**_nth(n, patients), "id": new_id()}  # as the server names what it creates
    return FhirWrite(
        "Observation",
        resource["id"],
        resource,
        index_rows(resource),
        compartment_patient(resource),
        must_create=True,
    )


def _patients(patients: int) -> list[FhirWrite]:
    out = []
    for p in range(patients):
        resource = {"resourceType": "Patient", "id": f"p{p}", "gender": "female"}
        out.append(FhirWrite("Patient", f"p{p}", resource, index_rows(resource), f"p{p}"))
    return out


def _store(store: str, work: Path, dsn: str | None) -> Any:
    if store == "postgres":
        from dalgu.store.postgres import PostgresEntityStore

        return PostgresEntityStore(dsn or "", pool_size=2)
    from dalgu.store.sqlite import SqliteEntityStore

    return SqliteEntityStore(work / "sqlite.db")


async def load(store: Any, patients: int, observations: int) -> float:
    await store.open()
    began = time.perf_counter()
    try:
        await store.fhir_write(_patients(patients))
        for start in range(0, observations, 1000):
            end = min(observations, start + 1000)
            await store.fhir_write([_write(n, patients) for n in range(start, end)])
            if not hasattr(store, "pool") and start % 50_000 == 0:
                # back-to-back writes never leave the store's PASSIVE checkpointer a moment
                # to reset the WAL (it reached 25 GB loading 1M): truncate it here and there
                store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if hasattr(store, "pool"):
            await store.pool.execute("VACUUM ANALYZE")
        else:
            store.db.execute("ANALYZE")
    finally:
        await store.close()
    return time.perf_counter() - began


async def creates(
    base: str, patients: int, seconds: float, bundle: int, offset: int
) -> dict[str, Any]:
    """Creates by 4 clients for `seconds`: single POSTs (`bundle` 0) or transaction Bundles."""
    latencies: list[float] = []
    stored = errors = 0
    counter = offset
    deadline = time.perf_counter() + seconds

    def body() -> tuple[str, bytes, int]:
        nonlocal counter
        if bundle == 0:
            counter += 1
            return "/fhir/Observation", orjson.dumps(_nth(counter, patients)), 1
        entries = []
        for _ in range(bundle):
            counter += 1
            entry = {"resource": _nth(counter, patients), "request": {"method": "POST"}}
            entry["request"]["url"] = "Observation"
            entries.append(entry)
        document = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        return "/fhir", orjson.dumps(document), bundle

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal stored, errors
        while time.perf_counter() < deadline:
            path, content, count = body()
            began = time.perf_counter()
            response = await http.post(base + path, content=content, headers=HEADERS)
            latencies.append((time.perf_counter() - began) * 1000)
            if response.status_code in (200, 201):
                stored += count
            else:
                errors += 1

    began = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(4)))
    elapsed = time.perf_counter() - began
    return {
        "rate": stored / elapsed,
        "requests": len(latencies),
        "p50": _pct(latencies, 0.5),
        "p99": _pct(latencies, 0.99),
        "errors": errors,
        "next": counter,
    }


def _search_params(rng: random.Random, patients: int, minutes: int) -> list[tuple[str, str]]:
    hour = rng.randrange(max(1, minutes - 60))
    low = (START + timedelta(minutes=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
    high = (START + timedelta(minutes=hour + 59)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        ("patient", f"p{rng.randrange(patients)}"),
        ("code", f"{LOINC}|8867-4"),
        ("date", f"ge{low}"),
        ("date", f"le{high}"),
        ("_count", "100"),
    ]


async def searches(
    base: str, patients: int, minutes: int, runs: int, clients: int
) -> dict[str, Any]:
    rng = random.Random(7)
    latencies: list[float] = []
    matches: list[int] = []
    errors = 0
    per_client = runs // clients

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        for _ in range(per_client):
            params = _search_params(rng, patients, minutes)
            began = time.perf_counter()
            response = await http.get(f"{base}/fhir/Observation", params=params, headers=HEADERS)
            latencies.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                errors += 1
            else:
                matches.append(len(response.json().get("entry", [])))

    async with httpx.AsyncClient(timeout=60) as http:
        for _ in range(10):  # warm the caches
            await http.get(
                f"{base}/fhir/Observation", params=_search_params(rng, patients, minutes)
            )
        began = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return {
        "p50": _pct(latencies, 0.5),
        "p99": _pct(latencies, 0.99),
        "rate": len(latencies) / elapsed,
        "matches": sum(matches) / max(1, len(matches)),
        "errors": errors,
    }


async def search_ceiling(store: Any, patients: int, minutes: int, runs: int) -> dict[str, float]:
    """The same searches through the store in process: the SQL alone."""
    rng = random.Random(7)
    await store.open()
    latencies = []
    try:
        for _ in range(runs):
            query = parse_search("Observation", _search_params(rng, patients, minutes))
            began = time.perf_counter()
            await store.fhir_search(query)
            latencies.append((time.perf_counter() - began) * 1000)
    finally:
        await store.close()
    return {"p50": _pct(latencies, 0.5), "p99": _pct(latencies, 0.99)}


async def write_ceiling(store: str, work: Path, dsn: str | None, seconds: float) -> float:
    """Observation bodies into a bare (id, body) table, 100 per transaction."""
    batches = [[(f"c{b}-{n}", orjson.dumps(_nth(n, 1000))) for n in range(100)] for b in range(64)]
    done, b = 0, 0
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    if store == "postgres":
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("CREATE TABLE ceiling (id text PRIMARY KEY, body bytea)")
            while time.perf_counter() < deadline:
                rows = [(f"{i}-{b}", body) for i, body in batches[b % 64]]
                async with conn.transaction():
                    await conn.executemany("INSERT INTO ceiling VALUES ($1, $2)", rows)
                done, b = done + len(rows), b + 1
            await conn.execute("DROP TABLE ceiling")
        finally:
            await conn.close()
    else:
        db = sqlite3.connect(work / "sqlite.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE ceiling (id TEXT PRIMARY KEY, body BLOB)")
        while time.perf_counter() < deadline:
            rows = [(f"{i}-{b}", body) for i, body in batches[b % 64]]
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO ceiling VALUES (?, ?)", rows)
            db.execute("COMMIT")
            done, b = done + len(rows), b + 1
        db.execute("DROP TABLE ceiling")
        db.close()
    return done / (time.perf_counter() - began)


def run(
    store: str, args: argparse.Namespace, work: Path, server_core: int, load_core: int
) -> dict[str, Any]:
    os.sched_setaffinity(0, {load_core})
    dsn = create_database() if store == "postgres" else None
    port = free_port()
    env = {
        "DALGU_PORT": str(port),
        "DALGU_HOST": "127.0.0.1",
        "DALGU_STORE": store,
        "DALGU_SQLITE_PATH": str(work / "sqlite.db"),
        "DALGU_NOTIFIER": "off",
        "DALGU_MQTT_BROKER": "off",
        "DALGU_IOT_NORTH_PORT": "0",
        "DALGU_IOT_SOUTH_PORT": "0",
        "DALGU_COAP_PORT": "0",
        "DALGU_FHIR_VITALS": "false",
    }
    if dsn is not None:
        env["DALGU_POSTGRES_DSN"] = dsn
    base = f"http://127.0.0.1:{port}"
    minutes = max(1, args.observations // (args.patients * len(CODES)))
    result: dict[str, Any] = {"store": store}
    try:
        result["load_s"] = asyncio.run(
            load(_store(store, work, dsn), args.patients, args.observations)
        )
        server = Server(
            f"dalgu-{store}",
            [sys.executable, "-m", "dalgu", "serve"],
            env,
            f"{base}/health",
            server_core,
            work / f"{store}.log",
        )
        result["search1"] = asyncio.run(searches(base, args.patients, minutes, args.searches, 1))
        result["search4"] = asyncio.run(searches(base, args.patients, minutes, args.searches, 4))
        offset = args.observations + 10
        result["single"] = asyncio.run(creates(base, args.patients, args.seconds, 0, offset))
        offset = result["single"]["next"]
        result["bundle"] = asyncio.run(
            creates(base, args.patients, args.seconds, args.bundle, offset)
        )
        result["peak_rss_mb"] = server.peak / 2**20
        server.stop()
        result["search_ceiling"] = asyncio.run(
            search_ceiling(_store(store, work, dsn), args.patients, minutes, args.searches)
        )
        result["write_ceiling"] = asyncio.run(write_ceiling(store, work, dsn, args.seconds))
    finally:
        stop_all()
        if dsn is not None:
            drop_database(dsn)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--bundle", type=int, default=100)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--budget", type=int, default=7200)
    args = parser.parse_args()
    guard(args.budget)
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    if "postgres" in stores and not postgres_answers():
        stores.remove("postgres")
    with tempfile.TemporaryDirectory(prefix="dalgu-bench-fhir-") as tmp:
        server_core, load_core = cores()
        for store in stores:
            work = Path(tmp) / store
            work.mkdir()
            r = run(store, args, work, server_core, load_core)
            print(
                f"## {store}: {args.observations:,} Observations of {args.patients:,} patients "
                f"(loaded in {r['load_s']:.0f} s)"
            )
            ceiling = r["write_ceiling"]
            for key, label in (("single", "single creates"), ("bundle", "transaction Bundles")):
                c = r[key]
                print(
                    f"{label}: {c['rate']:,.0f} Observations/s  p50 {c['p50']:.1f} ms  "
                    f"p99 {c['p99']:.1f} ms  errors {c['errors']}  "
                    f"ceiling (bare inserts) {ceiling:,.0f}/s  ratio {c['rate'] / ceiling:.3f}"
                )
            sc = r["search_ceiling"]
            for key, label in (("search1", "search, 1 client"), ("search4", "search, 4 clients")):
                s = r[key]
                print(
                    f"{label}: p50 {s['p50']:.1f} ms  p99 {s['p99']:.1f} ms  "
                    f"{s['rate']:.0f} req/s  {s['matches']:.0f} matches/page  "
                    f"errors {s['errors']}  ceiling (store SQL, in process) p50 "
                    f"{sc['p50']:.1f} ms p99 {sc['p99']:.1f} ms  ratio "
                    f"{s['p50'] / sc['p50']:.1f}"
                )
            print(f"peak RSS of the server: {r['peak_rss_mb']:.0f} MB")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
