"""The change feed: changes relayed from the outbox to NATS JetStream per second, write to
stream latency, peak RSS, each against what JetStream takes from one client in the same run.

For each store, a real server (`dalgu serve`, one worker, its notifier process relaying,
`DALGU_CHANGE_FEED=nats`, a stream of its own) pinned to one core, the load from the other:

- ceiling: one nats-py client publishes `--changes` messages of the feed's size to a scratch
  stream, 500 at a time, each batch acknowledged before the next (what the relay does);
- relay while writing: `--changes` vehicles upserted 1,000 per request; changes/s from the
  first request to the stream holding them all (bounded by the writes);
- relay alone: `--changes` more written while the feed's NATS is away (they wait in the
  outbox), then the server started again with NATS back: changes/s from its first answer to
  the stream holding them all (the notifier process's start included);
- write cost: the same load on a server with the feed off (entities/s with and without);
- latency: single creates paced at `--rate` per second for `--seconds`, an ordered push
  consumer on the stream: from each create's request to its change's arrival, p50/p99.

    .venv/bin/python bench/feed.py [--stores sqlite,postgres] [--changes 20000]
        [--rate 100] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import nats
import orjson

from databases import create_database, drop_database
from loadgen import batch_upsert, percentile
from processes import Server, dalgu_command, dalgu_env, each_store, free_port, guard
from vehicles import batches, vehicle

NATS_URL = "nats://127.0.0.1:4222"
MiB = 2**20


async def ceiling(count: int) -> float:
    """Messages/s one client publishes to JetStream, acknowledged 500 at a time."""
    name = f"BENCH_CEILING_{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    await js.add_stream(name=name, subjects=[f"{name.lower()}.>"])
    body = orjson.dumps({"before": None, "after": vehicle(1), "id": "1.0", "at": "x" * 24})
    try:
        started = time.perf_counter()
        for start in range(0, count, 500):
            pending = [
                await js.publish_async(
                    f"{name.lower()}.t.Vehicle", body, headers={"Nats-Msg-Id": f"{n}"}
                )
                for n in range(start, min(count, start + 500))
            ]
            await asyncio.gather(*pending)
        return count / (time.perf_counter() - started)
    finally:
        await js.delete_stream(name)
        await nc.close()


async def stream_count(name: str) -> int:
    nc = await nats.connect(NATS_URL)
    try:
        return int((await nc.jetstream().stream_info(name)).state.messages)
    except nats.js.errors.NotFoundError:
        return 0
    finally:
        await nc.close()


async def relay_rate(base: str, stream: str, count: int) -> tuple[float, float]:
    """(entities/s written, changes/s through to the stream)."""
    started = time.perf_counter()
    written = await batch_upsert(base, batches(count), count)
    while await stream_count(stream) < count:
        if time.perf_counter() - started > 600:
            raise RuntimeError("the stream did not get every change within 10 minutes")
        await asyncio.sleep(0.05)
    return written.rate, count / (time.perf_counter() - started)


async def latency(base: str, stream: str, subject: str, rate: float, seconds: float) -> list[float]:
    """Milliseconds from each paced create's request to its change in the stream."""
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    done_sending = False
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()

    all_in = asyncio.Event()

    async def on_message(message: nats.aio.msg.Msg) -> None:
        arrived[orjson.loads(message.data)["entityId"]] = time.perf_counter()
        if done_sending and len(arrived) >= len(sent):
            all_in.set()

    subscription = await js.subscribe(
        f"{subject}.>",
        stream=stream,
        cb=on_message,
        ordered_consumer=True,
        config=nats.js.api.ConsumerConfig(deliver_policy=nats.js.api.DeliverPolicy.NEW),
    )
    run = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(timeout=30) as client:
        began = time.perf_counter()
        n = 0
        while time.perf_counter() - began < seconds:
            entity_id = f"urn:ngsi-ld:Vehicle:late-{run}-{n}"
            body = {"id": entity_id, "type": "Vehicle", "speed": {"type": "Property", "value": n}}
            sent[entity_id] = time.perf_counter()
            response = await client.post(f"{base}/entities", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"create answered {response.status_code}")
            n += 1
            await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
    done_sending = True
    if len(arrived) < len(sent):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), 10)
    await subscription.unsubscribe()
    await nc.close()
    missing = len(sent) - len(arrived)
    if missing:
        raise RuntimeError(f"{missing} changes never reached the stream")
    return [(arrived[i] - sent[i]) * 1000 for i in sent]


def run_store(store: str, args: argparse.Namespace, server_core: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"dalgu-bench-feed-{store}-"))
    dsns: list[str] = []
    stream = f"BENCH_FEED_{uuid.uuid4().hex[:8]}"
    subject = stream.lower()
    try:
        top = asyncio.run(ceiling(args.changes))
        rates = {}
        for feed in ("off", "nats"):
            port = free_port()
            env = dalgu_env(store, port, tmp / f"{feed}.db")
            env.update(
                {
                    "DALGU_MQTT_BROKER": "off",
                    "DALGU_IOT_NORTH_PORT": "0",
                    "DALGU_IOT_SOUTH_PORT": "0",
                    "DALGU_COAP_PORT": "0",
                    "DALGU_CHANGE_FEED": feed,
                    "DALGU_NATS_STREAM": stream,
                    "DALGU_NATS_SUBJECT": subject,
                }
            )
            if store == "postgres":
                env["DALGU_POSTGRES_DSN"] = create_database()
                dsns.append(env["DALGU_POSTGRES_DSN"])
            base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
            server = Server(
                f"dalgu ({store}, feed {feed})",
                dalgu_command(),
                env,
                f"{base}/types",
                server_core,
                tmp / f"{feed}.log",
            )
            try:
                if feed == "off":
                    written = asyncio.run(batch_upsert(base, batches(args.changes), args.changes))
                    rates["off"] = written.rate
                    continue
                rates["nats"], relayed = asyncio.run(relay_rate(base, stream, args.changes))
                delays = asyncio.run(latency(base, stream, subject, args.rate, args.seconds))
                peak = server.peak / MiB
            finally:
                server.stop()
            held = asyncio.run(stream_count(stream))
            env["DALGU_NATS_URL"] = f"nats://127.0.0.1:{free_port()}"  # away
            server = Server(
                f"dalgu ({store}, NATS away)",
                dalgu_command(),
                env,
                f"{base}/types",
                server_core,
                tmp / "away.log",
            )
            try:
                fresh = [  # new vehicles: creates, as in the first load
                    orjson.dumps(
                        [vehicle(10**7 + i) for i in range(s, min(args.changes, s + 1000))]
                    )
                    for s in range(0, args.changes, 1000)
                ]
                asyncio.run(batch_upsert(base, fresh, args.changes))
            finally:
                server.stop()
            del env["DALGU_NATS_URL"]
            server = Server(
                f"dalgu ({store}, NATS back)",
                dalgu_command(),
                env,
                f"{base}/types",
                server_core,
                tmp / "back.log",
            )
            try:
                # from the first look that finds the backlog moving to the one that finds it
                # all: the notifier process may start relaying before the API answers
                began = time.perf_counter()
                first: tuple[float, int] | None = None
                while (count := asyncio.run(stream_count(stream))) < held + args.changes:
                    if first is None and count > held:
                        first = (time.perf_counter(), count)
                    if time.perf_counter() - began > 600:
                        raise RuntimeError("the backlog was not relayed within 10 minutes")
                    time.sleep(0.02)
                start, start_count = first or (began, held)
                drained = (held + args.changes - start_count) / (time.perf_counter() - start)
                peak = max(peak, server.peak / MiB)
            finally:
                server.stop()
        print(
            f"{store}: relay alone {drained:,.0f} changes/s ({drained / top:.2f} of the ceiling, "
            f"{top:,.0f} acknowledged messages/s from one client); relayed while writing "
            f"{relayed:,.0f} changes/s; writes {rates['nats']:,.0f} "
            f"entities/s with the feed, {rates['off']:,.0f} without "
            f"({rates['nats'] / rates['off']:.2f}); write to stream p50 "
            f"{percentile(delays, 50):.1f} ms, p99 {percentile(delays, 99):.1f} ms "
            f"({len(delays)} creates at {args.rate:g}/s); peak RSS {peak:.0f} MiB",
            flush=True,
        )
    finally:
        for dsn in dsns:
            drop_database(dsn)
        shutil.rmtree(tmp, ignore_errors=True)

        async def drop() -> None:
            nc = await nats.connect(NATS_URL)
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await nc.jetstream().delete_stream(stream)
            await nc.close()

        asyncio.run(drop())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--changes", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=100.0, help="paced creates per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--budget", type=int, default=1200)
    args = parser.parse_args()
    guard(args.budget)
    each_store(args.stores, lambda store, core, _: run_store(store, args, core))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
