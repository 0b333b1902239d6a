"""Notification latency and throughput: acknowledged update → receipt over HTTP and MQTT.

Starts a real Dalgu server on loopback (`dalgu serve`, embedded store or a fresh PostgreSQL
database), 1,000 active subscriptions on the updated type (most filtered out, two delivering:
one to an HTTP receiver, one over MQTT through a Mosquitto of the run's own), then:

- latency: PATCHes at a steady rate and measures, per update, the time from the client's
  acknowledgement to receipt by the HTTP receiver and by the MQTT subscriber;
- throughput: PATCHes as fast as 32 connections allow, and counts notifications received
  per second (until the outbox is drained);
- ceilings in the same run: a direct POST from the same client to the same receiver at the
  same rate (round-trip latency), and as fast as it goes (requests/s).

With `--dead N`, one more subscription on the updated attribute notifies an endpoint nobody
listens at, and N updates are sent before the latency run: its N notifications wait behind
its first failed one (then the run's own), for the whole run. A city's subscriber that goes
away must not slow the notifications of every other one.

The client is raw asyncio on uvloop (no HTTP library) and the receivers run in a process of
their own, so neither bounds what is measured; both clocks are CLOCK_MONOTONIC.

The Mosquitto is configured as a production deployment should be (README, deployment):
`set_tcp_nodelay true`, else it holds each small publish to a subscriber until the previous
one is acknowledged, and the subscriber's delayed ACK (up to 40 ms on Linux) became
notification latency (MQTT p50 23 ms, p99 52 ms through the machine's default Mosquitto in
the run that found it, 2.2 / 23 ms with the setting).

    .venv/bin/python bench/notification_latency.py [--rate 1000] [--seconds 10] [--subs 1000]
        [--store sqlite|postgres] [--flood 5] [--pin] [--dead 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import orjson
import paho.mqtt.client as mqtt
import psutil
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.processes import end_on_termination, free_port

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


# --- the receivers (a process of their own) ----------------------------------------------


def _seqs(body: Any) -> list[int]:
    out = []
    for entity in body.get("data", [body]) if isinstance(body, dict) else ():
        seq = entity.get("seq")
        if isinstance(seq, dict):
            seq = seq.get("value")
        if isinstance(seq, int):
            out.append(seq)
    return out


class _Receiver(asyncio.Protocol):
    """HTTP/1.1 keep-alive receiver: answers 204 and records the receipt time of each seq."""

    def __init__(self, record: Callable[[str, Any], None]) -> None:
        self.record = record
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            path = head.split(b" ", 2)[1]
            self.record("direct" if path == b"/direct" else "http", orjson.loads(body))
            self.transport.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")


def start_mosquitto(port: int) -> subprocess.Popen[bytes]:
    """A Mosquitto of the run's own on `port`, configured as production should be."""
    conf = Path(tempfile.mkdtemp()) / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
        "max_queued_messages 0\npersistence false\n"
    )
    return subprocess.Popen(
        ["mosquitto", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def receivers(port: int, mqtt_port: int, topic: str, pipe: Connection) -> None:
    """Run the HTTP receiver and the MQTT subscriber until told to stop; send the receipts."""
    at: dict[str, dict[int, float]] = {"http": {}, "mqtt": {}, "direct": {}}
    counts: dict[str, list[float]] = {"http": [], "mqtt": []}
    lock = threading.Lock()

    def record(channel: str, body: Any) -> None:
        now = time.perf_counter()
        with lock:
            if channel in counts:
                counts[channel].append(now)
            for seq in _seqs(body):
                at[channel].setdefault(seq, now)

    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    subscriber.on_message = lambda c, u, m: record("mqtt", orjson.loads(m.payload)["body"])
    subscriber.connect("127.0.0.1", mqtt_port)
    subscriber.subscribe(topic, qos=0)
    subscriber.loop_start()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Receiver(record), "127.0.0.1", port)
        pipe.send("ready")
        while not await loop.run_in_executor(None, pipe.poll, 0.2):
            pass
        pipe.recv()
        server.close()

    uvloop.run(serve())
    subscriber.loop_stop()
    with lock:
        pipe.send((at, counts))


# --- the client ------------------------------------------------------------------------------


class _Client(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with one request in flight."""

    def __init__(self) -> None:
        self.buffer = b""
        self.waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end]
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if len(self.buffer) < end + 4 + length:
            return
        self.buffer = self.buffer[end + 4 + length :]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(int(head[9:12]))

    async def request(self, raw: bytes) -> int:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


def _request(method: str, path: str, body: dict[str, Any]) -> bytes:
    data = orjson.dumps(body)
    head = (
        f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def _patch(seq: int, entities: int) -> bytes:
    entity = f"urn:ngsi-ld:Vehicle:bench-{seq % entities}"
    body = {
        "seq": {"type": "Property", "value": seq},
        "speed": {"type": "Property", "value": 60 + seq % 40},
    }
    return _request("PATCH", f"/ngsi-ld/v1/entities/{entity}/attrs", body)


async def drive(
    port: int,
    make: Callable[[int], bytes],
    total: int,
    rate: float | None,
    first: int = 0,
    connections: int = 32,
) -> tuple[dict[int, float], dict[int, float], int]:
    """Send `total` requests, at `rate` per second (None: as fast as the connections go).

    Returns (send time, acknowledgement time) per sequence number and the error count."""
    loop = asyncio.get_running_loop()
    pool: asyncio.Queue[_Client] = asyncio.Queue()
    for _ in range(connections):
        _, protocol = await loop.create_connection(_Client, "127.0.0.1", port)
        pool.put_nowait(protocol)
    sent: dict[int, float] = {}
    acks: dict[int, float] = {}
    errors = 0

    async def one(seq: int) -> None:
        nonlocal errors
        client = await pool.get()
        sent[seq] = time.perf_counter()
        status = await client.request(make(seq))
        acks[seq] = time.perf_counter()
        if status >= 300:
            errors += 1
        pool.put_nowait(client)

    start = time.perf_counter()
    tasks = []
    for n in range(total):
        if rate is not None:
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        elif pool.empty():
            await asyncio.sleep(0)
        tasks.append(asyncio.create_task(one(first + n)))
        if rate is None and len(tasks) > connections * 4:
            await tasks[-connections * 2]
    await asyncio.gather(*tasks)
    for _ in range(connections):
        (await pool.get()).transport.close()
    return sent, acks, errors


# --- the server ----------------------------------------------------------------------------


def start_dalgu(env: dict[str, str], port: int, pin: bool) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "dalgu", "serve"]
    process = subprocess.Popen(
        ["taskset", "-c", "0", *cmd] if pin else cmd,
        env={**os.environ, **env, "DALGU_PORT": str(port), "DALGU_MQTT_BROKER": "off"},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("Dalgu did not start")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


async def subscribe(
    base: str, subs: int, receiver_port: int, mqtt_port: int, topic: str, dead: bool
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        batch = [
            {
                "id": f"urn:ngsi-ld:Vehicle:bench-{i}",
                "type": "Vehicle",
                "speed": {"type": "Property", "value": 0},
                "seq": {"type": "Property", "value": -1},
            }
            for i in range(100)
        ]
        await client.post(f"{base}/entityOperations/upsert", json=batch)
        for n in range(subs - 2):
            # a city's mix, none delivering here: other types; this type watching other
            # attributes; and every tenth on this type with a q that the updates fail
            selector: dict[str, Any] = {"entities": [{"type": f"Other{n % 100}"}]}
            if n % 10 == 1:
                selector = {"entities": [{"type": "Vehicle"}], "q": f"speed>{1000 + n}"}
            elif n % 2:
                selector = {
                    "entities": [{"type": "Vehicle"}],
                    "watchedAttributes": [f"other{n % 50}"],
                }
            endpoint = {"uri": f"http://127.0.0.1:{receiver_port}/x"}
            await client.post(
                f"{base}/subscriptions",
                json={"type": "Subscription", **selector, "notification": {"endpoint": endpoint}},
            )
        mqtt_uri = f"mqtt://127.0.0.1:{mqtt_port}/{topic}"
        uris = [f"http://127.0.0.1:{receiver_port}/notify", mqtt_uri]
        if dead:  # nobody listens there: every attempt fails, its notifications wait
            uris.append(f"http://127.0.0.1:{free_port()}/notify")
        for uri in uris:
            await client.post(
                f"{base}/subscriptions",
                json={
                    "type": "Subscription",
                    "entities": [{"type": "Vehicle"}],
                    "watchedAttributes": ["seq"],
                    "notification": {
                        "endpoint": {"uri": uri},
                        "attributes": ["seq"],
                        "format": "keyValues",
                    },
                },
            )


def _latency_ms(acks: dict[int, float], received: dict[int, float]) -> list[float]:
    return [(received[s] - acks[s]) * 1000 for s in acks if s in received]


def _rate(times: list[float]) -> float:
    """Receipts per second between the first and the last receipt."""
    if len(times) < 2:
        return 0.0
    return (len(times) - 1) / (max(times) - min(times))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--subs", type=int, default=1000)
    parser.add_argument("--flood", type=float, default=5, help="seconds of throughput run")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pin", action="store_true", help="pin the server to core 0")
    parser.add_argument(
        "--dead", type=int, default=0, help="notifications waiting for a dead endpoint"
    )
    parser.add_argument(
        "--env", action="append", default=[], help="extra NAME=VALUE for the server"
    )
    args = parser.parse_args()
    receiver_port, dalgu_port, mqtt_port = free_port(), free_port(), free_port()
    topic = f"dalgu/bench/{os.getpid()}"
    broker = start_mosquitto(mqtt_port)
    await asyncio.sleep(0.5)
    ours, theirs = mp.get_context("spawn").Pipe()
    listener = mp.get_context("spawn").Process(
        target=receivers, args=(receiver_port, mqtt_port, topic, theirs)
    )
    listener.start()
    assert ours.recv() == "ready"
    tmp = Path(tempfile.mkdtemp())
    env = {"DALGU_SQLITE_PATH": str(tmp / "bench.db")}
    database = None
    if args.store == "postgres":
        database = f"dalgu_bench_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'CREATE DATABASE "{database}"')
        await admin.close()
        env |= {
            "DALGU_STORE": "postgres",
            "DALGU_POSTGRES_DSN": f"postgresql://postgres@127.0.0.1:5432/{database}",
        }
    env |= dict(item.split("=", 1) for item in args.env)
    dalgu = start_dalgu(env, dalgu_port, args.pin)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        root = psutil.Process(dalgu.pid)
        while not stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            time.sleep(0.2)

    threading.Thread(target=sample, daemon=True).start()
    base = f"http://127.0.0.1:{dalgu_port}/ngsi-ld/v1"
    total = int(args.rate * args.seconds)
    try:
        await subscribe(base, args.subs, receiver_port, mqtt_port, topic, args.dead > 0)
        if args.dead:  # the dead endpoint's backlog, sent (and notified to the others) first
            await drive(dalgu_port, lambda s: _patch(s, 100), args.dead, None, first=-args.dead)
            await asyncio.sleep(5 + args.dead / 2000)  # the others' notifications drain
        await asyncio.sleep(1)
        started = time.perf_counter()
        _, acks, errors = await drive(dalgu_port, lambda s: _patch(s, 100), total, args.rate)
        achieved = len(acks) / (time.perf_counter() - started)
        await asyncio.sleep(3)  # let the tail arrive
        flood_total = int(args.flood * 3000)
        started = time.perf_counter()
        _, flood_acks, flood_errors = await drive(
            dalgu_port, lambda s: _patch(s, 100), flood_total, None, first=total
        )
        flood_rate = len(flood_acks) / (time.perf_counter() - started)
        await asyncio.sleep(max(5.0, args.flood))
        direct = _request("POST", "/direct", {"seq": 0})
        d_sent, d_acks, _ = await drive(receiver_port, lambda s: direct, total // 2, args.rate)
        started = time.perf_counter()
        _, d_flood, _ = await drive(receiver_port, lambda s: direct, flood_total, None)
        direct_rate = len(d_flood) / (time.perf_counter() - started)
    finally:
        stop.set()
        os.killpg(dalgu.pid, signal.SIGTERM)
        try:
            dalgu.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(dalgu.pid, signal.SIGKILL)
        ours.send("stop")
        at, counts = ours.recv()
        listener.join()
        broker.terminate()
        broker.wait(10)
        if database is not None:
            admin = await asyncpg.connect(ADMIN_DSN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.close()
    http_ms = _latency_ms(acks, at["http"])
    mqtt_ms = _latency_ms(acks, at["mqtt"])
    direct_ms = [(d_acks[s] - d_sent[s]) * 1000 for s in d_acks]
    flood_start = min(flood_acks.values(), default=0.0) - 1
    http_flood = [t for t in counts["http"] if t >= flood_start]
    mqtt_flood = [t for t in counts["mqtt"] if t >= flood_start]
    print(
        f"store {args.store}; {args.subs} active subscriptions"
        + (f" (one of them notifying a dead endpoint, {args.dead} waiting)" if args.dead else "")
        + f"; latency run: {len(acks)} updates "
        f"at {achieved:.0f}/s (asked {args.rate}/s, {errors} errors); server peak RSS "
        f"{peak[0] / 2**20:.0f} MiB"
    )
    print("| channel | delivered | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, values in (("HTTP receiver", http_ms), ("MQTT subscriber", mqtt_ms)):
        print(
            f"| {name} | {len(values)}/{len(acks)} | {percentile(values, 50):.1f} | "
            f"{percentile(values, 99):.1f} | {max(values, default=float('nan')):.1f} |"
        )
    for name, channel in (("HTTP", "http"), ("MQTT", "mqtt")):
        seconds = []
        for start in range(0, total, max(1, args.rate)):
            window = {s: acks[s] for s in range(start, start + args.rate) if s in acks}
            seconds.append(percentile(_latency_ms(window, at[channel]), 99))
        print(f"{name} p99 per second of the run: " + " ".join(f"{v:.0f}" for v in seconds))
    print(
        f"| ceiling: direct HTTP POST round trip | {len(direct_ms)} | "
        f"{percentile(direct_ms, 50):.2f} | {percentile(direct_ms, 99):.2f} | "
        f"{max(direct_ms, default=float('nan')):.2f} |"
    )
    print(
        f"throughput run: {len(flood_acks)} updates at {flood_rate:.0f}/s ({flood_errors} errors);"
        f" notifications received: HTTP {len(http_flood)} at {_rate(http_flood):.0f}/s, "
        f"MQTT {len(mqtt_flood)} at {_rate(mqtt_flood):.0f}/s; ceiling (direct POSTs) "
        f"{direct_rate:.0f}/s: HTTP at {_rate(http_flood) / direct_rate:.0%} of it"
    )


if __name__ == "__main__":
    # through `main`'s cleanup: it stops the server, the broker and the receiver and drops the
    # scratch database
    end_on_termination()
    uvloop.run(main())
