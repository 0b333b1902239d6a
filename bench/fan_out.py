"""A fan-out: one batch write that many subscriptions match, through a real `dalgu serve`.

    .venv/bin/python bench/fan_out.py [--subs 2000] [--entities 1000] [--store sqlite|postgres]

Starts Dalgu on loopback (embedded store, or a fresh PostgreSQL database) and a receiver in a
process of its own (raw asyncio, answers 200 at once), creates `--subs` subscriptions that all
match, then sends ONE batch upsert of `--entities` entities: `--subs` × `--entities`
notifications. Prints the time from the write's acknowledgement to the first and to the last
notification received, notifications per second, the notifier's peak RSS (and its RSS a few
seconds after the last), and the ceiling: the receiver's own rate for the same payloads posted
as fast as one client on 64 connections can, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import signal
import sys
import tempfile
import time
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.databases import create_database, drop_database, postgres_answers
from bench.processes import Server, dalgu_command, dalgu_env, end_on_termination, free_port


def _receiver(port: int, counter: Any, first: Any, last: Any, ready: Event) -> None:
    """Counts POSTs; `first`/`last` hold the monotonic times of the first and latest."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler: just end

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                length = 0
                while True:
                    header = await reader.readline()
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                now = time.monotonic()
                with counter.get_lock():
                    counter.value += 1
                    if first.value == 0:
                        first.value = now
                    last.value = now
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _notifier_rss(server: Server) -> int:
    try:
        root = psutil.Process(server.process.pid)
        return sum(
            p.memory_info().rss
            for p in root.children(recursive=True)
            if "dalgu.cli.notifier" in " ".join(p.cmdline())
        )
    except psutil.Error:
        return 0


async def _ceiling(port: int, payload: bytes, count: int) -> float:
    """Notifications/s the receiver takes from 64 keep-alive connections posting at once."""
    request = (
        b"POST /c HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(payload)
    ) + payload

    async def one(share: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(share):
            writer.write(request)
            await writer.drain()
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(one(count // 64) for _ in range(64)))
    return (count // 64 * 64) / (time.perf_counter() - began)


def run(store: str, subs: int, entities: int, work: Path) -> None:
    port, sink = free_port(), free_port()
    counter, first, last = mp.Value("q", 0), mp.Value("d", 0.0), mp.Value("d", 0.0)
    ready = mp.Event()
    receiver = mp.Process(target=_receiver, args=(sink, counter, first, last, ready), daemon=True)
    receiver.start()
    ready.wait(10)
    env = dalgu_env(store, port, work / "fan.db")
    env.update(
        DALGU_MQTT_PORT="0",
        DALGU_IOT_NORTH_PORT="0",
        DALGU_IOT_SOUTH_PORT="0",
        DALGU_COAP_PORT="0",
        DALGU_LOG_LEVEL="warning",
    )
    dsn = None
    if store == "postgres":
        dsn = create_database()
        env["DALGU_POSTGRES_DSN"] = dsn
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    server = Server("dalgu", dalgu_command(), env, f"{base}/types", "0-1", work / "fan.log")
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            for n in range(subs):
                body = {
                    "type": "Subscription",
                    "entities": [{"type": "Spot"}],
                    "watchedAttributes": ["status"],
                    "notification": {
                        "endpoint": {"uri": f"http://127.0.0.1:{sink}/n{n}"},
                        "attributes": ["status"],
                    },
                }
                assert client.post("/subscriptions", json=body).status_code == 201
            spots = [
                {
                    "id": f"urn:ngsi-ld:Spot:{n}",
                    "type": "Spot",
                    "status": {"type": "Property", "value": "free"},
                }
                for n in range(entities)
            ]
            time.sleep(1.0)
            idle_rss = _notifier_rss(server)
            answered = client.post(
                "/entityOperations/upsert",
                content=orjson.dumps(spots),
                headers={"Content-Type": "application/json"},
            )
            acked = time.monotonic()
            assert answered.status_code in (201, 204), answered.text
        expected = subs * entities
        peak = 0
        deadline = acked + 600
        while counter.value < expected and time.monotonic() < deadline:
            peak = max(peak, _notifier_rss(server))
            time.sleep(0.2)
        done = counter.value
        time.sleep(3.0)
        after = _notifier_rss(server)
        to_first = first.value - acked
        to_last = last.value - acked
        rate = done / (last.value - first.value) if last.value > first.value else 0.0
        payload = orjson.dumps(
            {
                "id": "urn:ngsi-ld:Notification:x",
                "type": "Notification",
                "subscriptionId": "urn:x",
                "notifiedAt": "2026-12-08T00:00:00Z",
                "data": [spots[0]],
            }
        )
        ceiling = asyncio.run(_ceiling(sink, payload, 20_000))
        print(
            f"## {store}: {subs:,} subscriptions × {entities:,} entities in one batch "
            f"= {expected:,}"
        )
        print(
            f"received {done:,} ({'all' if done == expected else 'NOT ALL'}); first "
            f"{to_first:.2f} s after the write's answer, last {to_last:.1f} s"
        )
        print(
            f"{rate:,.0f} notifications/s; ceiling (one client posting to the same receiver) "
            f"{ceiling:,.0f}/s, ratio {rate / ceiling:.2f}"
        )
        print(
            f"notifier RSS: idle {idle_rss / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB, "
            f"3 s after the last {after / 2**20:.0f} MiB"
        )
    finally:
        server.stop()
        receiver.terminate()
        if dsn is not None:
            drop_database(dsn)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subs", type=int, default=500)
    parser.add_argument("--entities", type=int, default=500)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    if args.store == "postgres" and not postgres_answers():
        raise SystemExit("PostgreSQL does not answer on 127.0.0.1:5432")
    end_on_termination()
    with tempfile.TemporaryDirectory(prefix="dalgu-bench-fan-") as tmp:
        run(args.store, args.subs, args.entities, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
