"""Notification latency: acknowledged update → receipt by an HTTP receiver and an MQTT subscriber.

Starts a real Dalgu server (embedded store) on loopback, 1,000 active subscriptions on the
updated type (most filtered out by `q`, two delivering: one over HTTP, one over MQTT through
the local Mosquitto), then PATCHes at a steady rate and measures, per update, the time from
the client's acknowledgement to receipt. The ceiling, measured in the same run, is a direct
POST from the same client to the same receiver at the same rate (no broker in between).

    .venv/bin/python bench/notification_latency.py [--rate 1000] [--seconds 10] [--subs 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receipts:
    """Receipt time per update sequence number, per channel."""

    def __init__(self) -> None:
        self.at: dict[str, dict[int, float]] = {"http": {}, "mqtt": {}, "direct": {}}

    def record(self, channel: str, body: dict[str, Any]) -> None:
        now = time.perf_counter()
        for entity in body.get("data", [body]):
            seq = entity.get("seq")
            if isinstance(seq, dict):
                seq = seq.get("value")
            if isinstance(seq, int):
                self.at[channel].setdefault(seq, now)


async def receiver(receipts: Receipts, port: int) -> asyncio.AbstractServer:
    """A minimal HTTP/1.1 receiver on asyncio streams (keep-alive), fast enough not to bound."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                path = head.split(b" ")[1]
                receipts.record("direct" if path == b"/direct" else "http", json.loads(body))
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


def start_dalgu(db: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DALGU_SQLITE_PATH": str(db), "DALGU_PORT": str(port)}
    cmd = [sys.executable, "-m", "dalgu", "serve"]
    process = subprocess.Popen(
        ["taskset", "-c", "0", *cmd],
        env=env,
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


async def drive(
    base: str,
    rate: int,
    seconds: float,
    acks: dict[int, float],
    direct: str | None,
    entity_count: int,
    sent: dict[int, float] | None = None,
) -> None:
    """PATCH at a steady rate (or POST directly to the receiver for the ceiling)."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        total = int(rate * seconds)
        start = time.perf_counter()
        tasks = []
        sent = {} if sent is None else sent

        async def one(seq: int) -> None:
            if direct is not None:
                sent[seq] = time.perf_counter()
                await client.post(direct, json={"seq": seq})
            else:
                entity = f"urn:ngsi-ld:Vehicle:bench-{seq % entity_count}"
                await client.patch(
                    f"{base}/entities/{entity}/attrs",
                    json={
                        "seq": {"type": "Property", "value": seq},
                        "speed": {"type": "Property", "value": 60 + seq % 40},
                    },
                )
            acks[seq] = time.perf_counter()

        for seq in range(total):
            delay = start + seq / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(seq)))
        await asyncio.gather(*tasks)


def latencies(acks: dict[int, float], received: dict[int, float]) -> list[float]:
    return [(received[s] - acks[s]) * 1000 for s in acks if s in received]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--subs", type=int, default=1000)
    args = parser.parse_args()
    receipts = Receipts()
    receiver_port, dalgu_port = free_port(), free_port()
    server = await receiver(receipts, receiver_port)
    topic = f"dalgu/bench/{os.getpid()}"
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    subscriber.on_message = lambda c, u, m: receipts.record("mqtt", json.loads(m.payload)["body"])
    subscriber.connect("127.0.0.1", 1883)
    subscriber.subscribe(topic, qos=0)
    subscriber.loop_start()
    tmp = Path(tempfile.mkdtemp())
    dalgu = start_dalgu(tmp / "bench.db", dalgu_port)
    rss = psutil.Process(dalgu.pid)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                total = rss.memory_info().rss + sum(c.memory_info().rss for c in rss.children())
                peak[0] = max(peak[0], total)
            except psutil.Error:
                pass
            time.sleep(0.2)

    threading.Thread(target=sample, daemon=True).start()
    base = f"http://127.0.0.1:{dalgu_port}/ngsi-ld/v1"
    entity_count = 100
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            batch = [
                {
                    "id": f"urn:ngsi-ld:Vehicle:bench-{i}",
                    "type": "Vehicle",
                    "speed": {"type": "Property", "value": 0},
                    "seq": {"type": "Property", "value": -1},
                }
                for i in range(entity_count)
            ]
            await client.post(f"{base}/entityOperations/upsert", json=batch)
            for n in range(args.subs - 2):
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
                await client.post(
                    f"{base}/subscriptions",
                    json={
                        "type": "Subscription",
                        **selector,
                        "notification": {
                            "endpoint": {"uri": f"http://127.0.0.1:{receiver_port}/x"}
                        },
                    },
                )
            for uri in (
                f"http://127.0.0.1:{receiver_port}/notify",
                f"mqtt://127.0.0.1:1883/{topic}",
            ):
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
        acks: dict[int, float] = {}
        started = time.perf_counter()
        await drive(base, args.rate, args.seconds, acks, None, entity_count)
        achieved = len(acks) / (time.perf_counter() - started)
        await asyncio.sleep(5)  # let the tail arrive
        direct_acks: dict[int, float] = {}
        direct_sent: dict[int, float] = {}
        await drive(
            base,
            args.rate,
            min(args.seconds, 5),
            direct_acks,
            f"http://127.0.0.1:{receiver_port}/direct",
            entity_count,
            direct_sent,
        )
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        os.killpg(dalgu.pid, signal.SIGTERM)
        try:
            dalgu.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(dalgu.pid, signal.SIGKILL)
        subscriber.loop_stop()
        server.close()
    http_ms = latencies(acks, receipts.at["http"])
    mqtt_ms = latencies(acks, receipts.at["mqtt"])
    direct_ms = [(direct_acks[s] - direct_sent[s]) * 1000 for s in direct_acks]
    print(
        f"updates: {len(acks)} at {achieved:.0f}/s (target rate {args.rate}/s), "
        f"{args.subs} active subscriptions, server peak RSS {peak[0] / 2**20:.0f} MiB"
    )
    print("| channel | delivered | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for name, values in (("HTTP receiver", http_ms), ("MQTT subscriber", mqtt_ms)):
        print(
            f"| {name} | {len(values)}/{len(acks)} | {percentile(values, 50):.1f} | "
            f"{percentile(values, 99):.1f} |"
        )
    print(
        f"| ceiling: one direct HTTP POST round trip | {len(direct_ms)} | "
        f"{percentile(direct_ms, 50):.2f} | {percentile(direct_ms, 99):.2f} |"
    )


if __name__ == "__main__":
    asyncio.run(main())
