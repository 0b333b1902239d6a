"""`make bench`: Dalgu's core hot paths against a real server, each as a ratio to the ceiling.

For each store: start `dalgu serve` pinned to core 0, load N entities through batch upsert
(1,000 per request), then drive it with wrk (pinned to core 1): single creates, GET by id,
a type + q query returning 100, a geoQ near query returning 100. The ceiling is a bare ASGI
hello-world on the same server (granian, one worker, same pinning), measured in the same run.
Peak RSS of the server (with its worker) is sampled throughout.

    .venv/bin/python bench/run.py [--entities 100000] [--duration 8] [--stores sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server process group pinned to core 0, with peak RSS sampling."""

    def __init__(self, cmd: list[str], env: dict[str, str], health: str) -> None:
        self.process = subprocess.Popen(
            ["taskset", "-c", "0", *cmd],
            env={**os.environ, **env},
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.peak = 0
        self._stop = threading.Event()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(health, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            self.stop()
            raise SystemExit(f"server did not start: {cmd}")
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        root = psutil.Process(self.process.pid)
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            time.sleep(0.25)

    def stop(self) -> None:
        self._stop.set()
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)


def wrk(
    url: str,
    duration: int,
    script: str | None = None,
    env: dict[str, str] | None = None,
    connections: int = 32,
) -> dict[str, float]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", str(HERE / "wrk" / script)]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rate": rate,
        "p50": ms("50"),
        "p99": ms("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def vehicle(i: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:{i}",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": i % 120, "observedAt": "2026-11-25T04:00:00Z"},
        "brandName": {"type": "Property", "value": ["Hyundai", "Kia", "Genesis"][i % 3]},
        "location": {
            "type": "GeoProperty",
            "value": {
                "type": "Point",
                "coordinates": [
                    round(128.45 + (i % 500) * 0.0006, 6),
                    round(35.78 + (i // 500 % 200) * 0.0008, 6),
                ],
            },
        },
    }


async def load(base: str, count: int) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120) as client:
        for start in range(0, count, 1000):
            body = orjson.dumps([vehicle(i) for i in range(start, min(count, start + 1000))])
            t = time.perf_counter()
            response = await client.post(
                f"{base}/entityOperations/upsert",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            latencies.append((time.perf_counter() - t) * 1000)
            assert response.status_code in (201, 204), response.text
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rate": count / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": 0,
    }


def run_store(store: str, args: argparse.Namespace, hello_rate: float) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="dalgu-bench-"))
    port = free_port()
    env = {
        "DALGU_STORE": store,
        "DALGU_PORT": str(port),
        "DALGU_SQLITE_PATH": str(tmp / "bench.db"),
    }
    database = None
    if store == "postgres":
        database = f"dalgu_bench_{uuid.uuid4().hex[:8]}"
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", database], check=True)
        env["DALGU_POSTGRES_DSN"] = f"postgresql://postgres@127.0.0.1:5432/{database}"
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    server = Server([sys.executable, "-m", "dalgu", "serve"], env, f"{base}/types")
    rows: list[dict[str, Any]] = []
    try:
        result = asyncio.run(load(base, args.entities))
        rows.append({"scenario": "batch upsert (1,000 per request), entities/s", **result})
        q = quote("speed>=60;speed<62")
        middle_lat = 35.78 + min(200, args.entities // 500) / 2 * 0.0008
        near = f"georel={quote('near;maxDistance==400')}&geometry=Point&coordinates=" + quote(
            f"[128.6,{middle_lat:.4f}]"
        )
        scenarios = [
            ("GET entity by id", f"http://127.0.0.1:{port}/", "get.lua", 32),
            (
                "query type + q, 100 results (1 connection)",
                f"{base}/entities?type=Vehicle&q={q}&limit=100",
                None,
                1,
            ),
            (
                "geoQ near, 100 results (1 connection)",
                f"{base}/entities?type=Vehicle&{near}&limit=100",
                None,
                1,
            ),
            ("single create (POST /entities)", f"{base}/entities", "create.lua", 32),
        ]
        for name, url, script, connections in scenarios:
            stats = wrk(
                url, args.duration, script, {"BENCH_ENTITIES": str(args.entities)}, connections
            )
            rows.append({"scenario": name, **stats})
        check = httpx.get(f"{base}/entities?type=Vehicle&q={q}&limit=100").json()
        geo = httpx.get(f"{base}/entities?type=Vehicle&{near}&limit=100").json()
        rows.append(
            {
                "scenario": f"(results: q {len(check)}, near {len(geo)})",
                "rate": 0,
                "p50": 0,
                "p99": 0,
                "errors": 0,
            }
        )
    finally:
        server.stop()
        if database:
            subprocess.run(
                ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", database], check=False
            )
        shutil.rmtree(tmp, ignore_errors=True)
    for row in rows:
        row.update(
            store=store,
            ratio=row["rate"] / hello_rate if hello_rate else 0,
            rss_mb=server.peak / 2**20,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--quick", action="store_true", help="10,000 entities, 3 s runs")
    args = parser.parse_args()
    if args.quick:
        args.entities, args.duration = 10_000, 3
    if shutil.which("wrk") is None:
        subprocess.run(["bash", str(ROOT / "scripts" / "bench-deps.sh")], check=True)
    port = free_port()
    hello = Server(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "bench.hello:app",
        ],
        {},
        f"http://127.0.0.1:{port}/",
    )
    try:
        ceiling = wrk(f"http://127.0.0.1:{port}/", args.duration)
    finally:
        hello.stop()
    rows = []
    for store in args.stores.split(","):
        rows.extend(run_store(store.strip(), args, ceiling["rate"]))
    print(
        f"\nceiling (bare ASGI hello-world, granian, 1 worker): {ceiling['rate']:,.0f} req/s, "
        f"p50 {ceiling['p50']:.2f} ms, p99 {ceiling['p99']:.2f} ms; "
        f"{args.entities:,} entities loaded\n"
    )
    print(
        "| store | scenario | rate (/s) | p50 ms | p99 ms | ratio to ceiling | non-2xx "
        "| server peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['store']} | {r['scenario']} | {r['rate']:,.0f} | {r['p50']:.2f} | "
            f"{r['p99']:.2f} | {r['ratio']:.2f} | {r['errors']:.0f} | {r['rss_mb']:.0f} |"
        )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_bytes(
        orjson.dumps({"ceiling": ceiling, "rows": rows}, option=orjson.OPT_INDENT_2)
    )


if __name__ == "__main__":
    main()
