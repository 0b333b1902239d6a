"""Soak a real Dalgu with concurrent writers and `kill -9`s; check every acknowledged write
was notified and no request got a 5xx.

Starts `dalgu serve` on loopback (a fresh SQLite file, or a fresh PostgreSQL database dropped
afterwards), subscribes an HTTP receiver to `Vehicle.speed` (key-values), then for
`--duration` seconds six writers create, PATCH, batch-upsert, delete, read and query
vehicles, each write with a speed no other write uses. With `--kill`, one API worker is
killed (`kill -9`) after 8 s and the notifier process 10 s later: `dalgu serve` starts them
again. At the end every acknowledged write's (id, speed) must reach the receiver, within 90 s.
With `--slow MS` a second receiver, subscribed the same way, answers each notification after
MS ms: it must not hold the first back, and (without `--kill`, where at-least-once may repeat
one) none of what it has received when the first has everything may have come twice. It is
not waited for: a backlog that takes longer than a lease (30 s) to send shows its repeats, if
any, only later (`tests/subscriptions/test_delivery.py` checks that with a short lease).

    .venv/bin/python scripts/soak.py [--store sqlite|postgres] [--workers 2] [--feed]
        [--kill] [--duration 40] [--slow 100]

Exit status 1 if a request got a 5xx, an acknowledged write was never notified, or the slow
receiver got one twice. Session 27
found three notification bugs this way (docs/benchmarks.md, "A subscriber that went away").
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import http.server
import json
import os
import queue
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import create_database, drop_database
from bench.processes import Server, dalgu_command, free_port


class Receiver(http.server.ThreadingHTTPServer):
    request_queue_size = 1024  # the notifier opens several connections at once

    def __init__(self, delay: float = 0.0) -> None:
        self.bodies: queue.Queue[Any] = queue.Queue()
        bodies = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.put(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                time.sleep(delay)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/notify"


class Soak:
    def __init__(self, base: str, server: Server, kill: bool) -> None:
        self.base, self.server, self.kill = base, server, kill
        self.acked: dict[tuple[str, int], str] = {}
        self.statuses: collections.Counter[tuple[str, Any]] = collections.Counter()
        self.server_errors: list[tuple[str, int, str]] = []

    async def writer(self, n: int, client: httpx.AsyncClient, stop: float) -> None:
        rnd, k = random.Random(n), 0
        mine: list[str] = []
        while time.time() < stop:
            k += 1
            speed = n * 10_000_000 + k
            op = rnd.choice(["create", "create", "patch", "patch", "batch", "delete", "get", "q"])
            if op in ("patch", "delete", "get") and not mine:
                op = "create"
            try:
                if op == "create":
                    eid = f"urn:ngsi-ld:Vehicle:soak-{n}-{k}"
                    body = {
                        "id": eid,
                        "type": "Vehicle",
                        "speed": {"type": "Property", "value": speed},
                    }
                    r = await client.post(f"{self.base}/entities", json=body)
                    if r.status_code == 201:
                        self.acked[(eid, speed)] = op
                        mine.append(eid)
                elif op == "patch":
                    eid = rnd.choice(mine)
                    body = {"speed": {"type": "Property", "value": speed}}
                    r = await client.patch(f"{self.base}/entities/{eid}/attrs", json=body)
                    if r.status_code == 204:
                        self.acked[(eid, speed)] = op
                elif op == "batch":
                    items: list[dict[str, Any]] = [
                        {
                            "id": f"urn:ngsi-ld:Vehicle:soak-{n}-{k}-{j}",
                            "type": "Vehicle",
                            "speed": {"type": "Property", "value": speed * 100 + j},
                        }
                        for j in range(20)
                    ]
                    r = await client.post(f"{self.base}/entityOperations/upsert", json=items)
                    if r.status_code in (201, 204):
                        for item in items:
                            self.acked[(item["id"], item["speed"]["value"])] = op
                            mine.append(item["id"])
                elif op == "delete":
                    r = await client.delete(
                        f"{self.base}/entities/{mine.pop(rnd.randrange(len(mine)))}"
                    )
                elif op == "get":
                    r = await client.get(f"{self.base}/entities/{rnd.choice(mine)}")
                else:
                    params: dict[str, str | int] = {
                        "type": "Vehicle",
                        "q": f"speed>{speed - 50}",
                        "limit": 10,
                    }
                    r = await client.get(f"{self.base}/entities", params=params)
                self.statuses[(op, r.status_code)] += 1
                if r.status_code >= 500:
                    self.server_errors.append((op, r.status_code, r.text[:300]))
            except httpx.TransportError as error:  # a killed worker's connections
                self.statuses[(op, type(error).__name__)] += 1

    async def chaos(self) -> None:
        if not self.kill:
            return
        await asyncio.sleep(8)
        children = psutil.Process(self.server.process.pid).children(recursive=True)
        workers = [p for p in children if "dalgu.cli.serve" in " ".join(p.cmdline())]
        if workers:
            print(f"kill -9 API worker {workers[0].pid}", flush=True)
            workers[0].kill()
        await asyncio.sleep(10)
        for p in psutil.Process(self.server.process.pid).children(recursive=True):
            if "dalgu.cli.notifier" in " ".join(p.cmdline()):
                print(f"kill -9 notifier {p.pid}", flush=True)
                p.kill()


def start(args: argparse.Namespace, work: Path) -> tuple[Server, int, str | None]:
    """`dalgu serve` on a free loopback port, once it answers `/health`; its scratch
    PostgreSQL database, if any."""
    port = free_port()
    env = {
        "DALGU_HOST": "127.0.0.1",
        "DALGU_PORT": str(port),
        "DALGU_WORKERS": str(args.workers),
        "DALGU_SQLITE_PATH": str(work / "soak.db"),
        "DALGU_IOT_NORTH_PORT": "0",  # the gateway's own ports: not soaked here
        "DALGU_IOT_SOUTH_PORT": "0",
        "DALGU_COAP_PORT": "0",
        "DALGU_MQTT_BROKER": "off",
    }
    dsn = None
    if args.store == "postgres":
        dsn = create_database()
        env |= {"DALGU_STORE": "postgres", "DALGU_POSTGRES_DSN": dsn}
    if args.feed:
        env["DALGU_CHANGE_FEED"] = "nats"
    every_core = ",".join(str(core) for core in sorted(os.sched_getaffinity(0)))
    try:
        server = Server(
            "dalgu",
            dalgu_command(),
            env,
            f"http://127.0.0.1:{port}/health",
            every_core,
            work / "dalgu.log",
        )
    except BaseException:
        if dsn is not None:
            drop_database(dsn)
        raise
    return server, port, dsn


async def soak(args: argparse.Namespace, server: Server, port: int) -> int:
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    receiver = Receiver()
    slow = Receiver(args.slow / 1000) if args.slow else None
    try:
        run = Soak(base, server, args.kill)
        async with httpx.AsyncClient(timeout=30) as client:
            notification = {
                "format": "keyValues",
                "attributes": ["speed"],
                "endpoint": {"uri": receiver.url, "accept": "application/json"},
            }
            subscription = {
                "type": "Subscription",
                "entities": [{"type": "Vehicle"}],
                "watchedAttributes": ["speed"],
                "notification": notification,
            }
            assert (
                await client.post(f"{base}/subscriptions", json=subscription)
            ).status_code == 201
            if slow is not None:
                behind = {**notification, "endpoint": {**notification["endpoint"], "uri": slow.url}}
                slowly = {**subscription, "notification": behind}
                assert (await client.post(f"{base}/subscriptions", json=slowly)).status_code == 201
            stop = time.time() + args.duration
            await asyncio.gather(*(run.writer(n, client, stop) for n in range(1, 7)), run.chaos())
        seen: set[tuple[str, Any]] = set()
        deadline = time.time() + 90
        while time.time() < deadline and not set(run.acked) <= seen:
            try:
                body = await asyncio.to_thread(receiver.bodies.get, timeout=1)
            except queue.Empty:
                continue
            seen.update((d["id"], d.get("speed")) for d in body.get("data", []))
        missing = [key for key in run.acked if key not in seen]
        print("answers:", dict(sorted(run.statuses.items(), key=str)))
        print(f"5xx: {len(run.server_errors)} {run.server_errors[:3]}")
        print(
            f"acknowledged writes: {len(run.acked)}; notified: {len(run.acked) - len(missing)}; "
            f"never notified: {len(missing)} {missing[:5]}"
        )
        twice = 0
        if slow is not None:
            got: collections.Counter[tuple[str, Any]] = collections.Counter()
            while not slow.bodies.empty():
                body = slow.bodies.get()
                got.update((d["id"], d.get("speed")) for d in body.get("data", []))
            twice = sum(1 for n in got.values() if n > 1)
            unknown = sum(1 for key in got if key not in run.acked)
            print(
                f"slow receiver ({args.slow} ms an answer): {sum(got.values())} notifications of "
                f"{len(got)} writes so far; twice: {twice}; of no acknowledged write: {unknown}"
            )
            if args.kill:
                twice = 0  # at-least-once: a notifier killed mid-send sends some again
        return 1 if missing or run.server_errors or twice else 0
    finally:
        receiver.shutdown()
        if slow is not None:
            slow.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--feed", action="store_true", help="the NATS change feed on")
    parser.add_argument("--kill", action="store_true", help="kill -9 a worker, then the notifier")
    parser.add_argument("--duration", type=float, default=40)
    parser.add_argument(
        "--slow", type=float, default=0, help="a second receiver answering after this many ms"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dalgu-soak-"))
    server, port, dsn = start(args, work)
    try:
        return asyncio.run(soak(args, server, port))
    finally:
        server.stop()
        if dsn is not None:
            drop_database(dsn)


if __name__ == "__main__":
    sys.exit(main())
