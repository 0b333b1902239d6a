"""End-to-end gateway benchmark: device publish over MQTT → entity updated (and history stored).

    .venv/bin/python bench/gateway.py                       # 1,000 and 10,000 devices, embedded
    .venv/bin/python bench/gateway.py --broker mosquitto    # through a Mosquitto of its own
    .venv/bin/python bench/gateway.py --devices 1000 --messages 20000
    .venv/bin/python bench/gateway.py --broker mosquitto --latency-rate 5000   # a fixed load

For each fleet size it:

1. measures the broker's own rate: one publisher to one plain subscriber, QoS 1, the same
   payloads (the ceiling of the run); the harness's publishers and subscriber write
   pre-encoded MQTT packets in bulk (`bench/mqttload.py`), so that one harness core can
   offer more than the broker and Dalgu take;
2. publishes `--messages` UltraLight measures (QoS 1, round robin over the devices, as fast
   as the broker takes them) and times until the last one is stored: end-to-end measures/s,
   and the ratio to the ceiling;
3. at half that rate (or at `--latency-rate`), sends probe measures from one more device and
   polls its entity for each: publish-to-stored latency p50/p99 under load;
4. samples the server's peak RSS.

Dalgu runs as a real server process (`dalgu serve`, one worker, SQLite in a temporary
directory) pinned to one core; the harness runs on the other. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.mqttload import Publisher, publish_all, subscribe_count
from bench.processes import Server, cores, free_port, guard, stop_all

APIKEY = "bench"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def broker_ceiling(port: int, messages: int) -> float:
    """Messages/s from one publisher to one plain subscriber through the broker (QoS 1)."""
    topic = f"bench/ceiling/{uuid.uuid4().hex[:8]}"  # not a measure topic: Dalgu ignores it
    done = await subscribe_count(port, f"sub-{uuid.uuid4().hex[:6]}", topic, messages)
    start = time.perf_counter()
    publisher = await Publisher.open(port, f"pub-{uuid.uuid4().hex[:6]}")
    try:
        await publisher.send((topic, f"t|{n}|h|{n % 100}".encode()) for n in range(messages))
        await publisher.settle()
        # connected until the subscriber has them all: amqtt drops the messages it has
        # acknowledged but not yet passed on when their publisher disconnects
        await asyncio.wait_for(done.wait(), 120)
    finally:
        await publisher.close()
    return messages / (time.perf_counter() - start)


async def stored(client: httpx.AsyncClient, device: str, value: float) -> bool:
    response = await client.get(f"/entities/urn:ngsi-ld:Sensor:{device}")
    # an autoprovisioned entity shows without measures until they are stored
    found = response.json().get("temperature", {}) if response.is_success else {}
    return bool(found.get("value") == value)


async def end_to_end(
    api: str, port: int, devices: int, messages: int, cpu: Callable[[], float] = float
) -> tuple[float, float]:
    """Measures/s from the first publish until the last measure of every device is stored.

    The clock stops when the last message published is stored (polled every 5 ms); then every
    other device's last measure is checked, and the clock runs on if one is not there yet.
    Returns measures/s and the server's CPU seconds (`cpu`) used until the clock stopped.
    """
    last: dict[int, int] = {}
    for n in range(messages):
        last[n % devices] = n
    fleet = (
        (f"/{APIKEY}/d{n % devices}/attrs", f"t|{n}|h|{n % 100}".encode()) for n in range(messages)
    )
    cpu_start = cpu()
    start = time.perf_counter()
    await publish_all(port, f"fleet-{uuid.uuid4().hex[:6]}", fleet)
    final = (messages - 1) % devices
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        deadline = time.monotonic() + 600
        while not await stored(client, f"d{final}", float(last[final])):
            if time.monotonic() > deadline:
                raise RuntimeError("the last measure was never stored")
            await asyncio.sleep(0.005)
        end = time.perf_counter()
        used = cpu() - cpu_start  # not the checking of every device below
        pending = dict(last)
        first_pass = True
        while pending and time.monotonic() < deadline:
            for device, value in list(pending.items()):
                if await stored(client, f"d{device}", float(value)):
                    del pending[device]
            if pending:
                first_pass = False
                await asyncio.sleep(0.05)
        if pending:
            raise RuntimeError(f"{len(pending)} devices never showed their last measure")
        if not first_pass:
            end = time.perf_counter()
    return messages / (end - start), used


async def latency_under_load(
    api: str, port: int, devices: int, rate: float, seconds: float
) -> list[float]:
    """Publish-to-stored latency of probe measures while the fleet sends at `rate`."""
    latencies: list[float] = []
    stop = asyncio.Event()

    async def background() -> None:
        pub = await Publisher.open(port, f"load-{uuid.uuid4().hex[:6]}")
        try:
            n, start = 0, time.perf_counter()
            while not stop.is_set():
                due = int((time.perf_counter() - start) * rate)
                await pub.send(
                    (f"/{APIKEY}/d{k % devices}/attrs", f"t|{k}".encode()) for k in range(n, due)
                )
                n = max(n, due)
                await asyncio.sleep(0.005)
        finally:
            await pub.close()

    load = asyncio.create_task(background())
    try:
        async with (
            aiomqtt.Client("127.0.0.1", port, identifier=f"probe-{uuid.uuid4().hex[:6]}") as probe,
            httpx.AsyncClient(base_url=api, timeout=10) as client,
        ):
            end = time.monotonic() + seconds
            value = 10_000_000
            while time.monotonic() < end:
                value += 1
                sent = time.perf_counter()
                await probe.publish(f"/{APIKEY}/probe/attrs", f"t|{value}".encode(), qos=1)
                while True:
                    response = await client.get("/entities/urn:ngsi-ld:Sensor:probe")
                    # an autoprovisioned entity shows without measures until they are stored
                    stored = response.json().get("temperature", {}) if response.is_success else {}
                    if stored.get("value") == float(value):
                        latencies.append(time.perf_counter() - sent)
                        break
                    if time.perf_counter() - sent > 10:
                        raise RuntimeError("a probe measure was not stored within 10 s")
                    await asyncio.sleep(0.001)
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await load
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=["embedded", "mosquitto"], default="embedded")
    parser.add_argument("--devices", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument(
        "--latency-rate",
        type=float,
        help="the fleet's rate (measures/s) while probing latency; default half the measured "
        "end-to-end rate (5000 is half of issue 4's 10,000/s, the same load for any server)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the server with py-spy during the timed run (raw stacks into this folder)",
    )
    args = parser.parse_args()
    parser_budget = 1800
    guard(parser_budget)  # every server stops on Ctrl-C, SIGTERM, SIGHUP and after 30 min
    server_core, client_core = cores()
    import os

    os.sched_setaffinity(0, {client_core})
    rows = []
    brokers: list[subprocess.Popen[bytes]] = []
    try:
        for devices in args.devices:
            tmp = Path(tempfile.mkdtemp(prefix="dalgu-gw-bench-"))
            api_port, north = free_port(), free_port()
            mqtt_port = free_port()
            if args.broker == "mosquitto":
                # a Mosquitto of the run's own, configured as Dalgu needs it in production: a
                # subscriber that falls behind keeps its QoS 1 backlog (the default drops past
                # 1,000 queued messages)
                conf = tmp / "mosquitto.conf"
                conf.write_text(
                    f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\n"
                    "max_queued_messages 0\nmax_inflight_messages 0\npersistence false\n"
                )
                broker = subprocess.Popen(
                    ["mosquitto", "-c", str(conf)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                brokers.append(broker)
                time.sleep(0.5)
            env = {
                "DALGU_SQLITE_PATH": str(tmp / "bench.db"),
                "DALGU_PORT": str(api_port),
                "DALGU_WORKERS": "1",
                "DALGU_IOT_NORTH_PORT": str(north),
                "DALGU_IOT_SOUTH_PORT": "0",
                "DALGU_COAP_PORT": "0",
                "DALGU_MQTT_BROKER": "embedded" if args.broker == "embedded" else "external",
                "DALGU_MQTT_PORT": str(mqtt_port),
                "DALGU_MQTT_CLIENT_ID": f"dalgu-bench-{uuid.uuid4().hex[:6]}",
            }
            server = Server(
                f"dalgu-{devices}",
                [str(Path(sys.executable)), "-m", "dalgu", "serve"],
                env,
                f"http://127.0.0.1:{api_port}/health",
                server_core,
                tmp / "server.log",
            )
            api = f"http://127.0.0.1:{api_port}/ngsi-ld/v1"
            group = {
                "apikey": APIKEY,
                "entity_type": "Sensor",
                "attributes": [
                    {"object_id": "t", "name": "temperature", "type": "Number"},
                    {"object_id": "h", "name": "humidity", "type": "Number"},
                ],
            }
            httpx.post(f"http://127.0.0.1:{north}/iot/services", json={"services": [group]})
            time.sleep(1.0)  # the southbound subscribes
            ceiling = asyncio.run(broker_ceiling(mqtt_port, args.messages))
            # every device's first message provisions it: warm up outside the timing
            asyncio.run(end_to_end(api, mqtt_port, devices, devices))  # (rate, cpu) unused
            spy = None
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                spy = subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--pid",
                        str(server.process.pid),
                        "--subprocesses",
                        "--nonblocking",
                        "--format",
                        "raw",
                        "--rate",
                        "250",
                        "--output",
                        str(args.profile / f"gateway-{devices}.txt"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1.0)  # py-spy attaches
            rate, cpu = asyncio.run(
                end_to_end(api, mqtt_port, devices, args.messages, server.cpu_seconds)
            )
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            latencies = asyncio.run(
                latency_under_load(
                    api, mqtt_port, devices, args.latency_rate or rate / 2, args.latency_seconds
                )
            )
            rows.append(
                {
                    "devices": devices,
                    "ceiling": ceiling,
                    "rate": rate,
                    "cpu": cpu / args.messages,
                    "p50": percentile(latencies, 0.5),
                    "p99": percentile(latencies, 0.99),
                    "load": args.latency_rate or rate / 2,
                    "probes": len(latencies),
                    "rss": server.peak,
                }
            )
            server.stop()
    finally:
        stop_all()
        for broker in brokers:
            broker.terminate()
            broker.wait(10)
    print(
        f"\nbroker: {args.broker}; {args.messages:,} measures per fleet; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        "| devices | broker ceiling (QoS 1) | end to end | ratio | server CPU per measure "
        "| latency under | p50 | p99 | probes | server peak RSS |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['devices']:,} | {r['ceiling']:,.0f} msg/s | {r['rate']:,.0f} measures/s | "
            f"{r['rate'] / r['ceiling']:.2f} | {r['cpu'] * 1e6:.0f} µs | "
            f"{r['load']:,.0f}/s | {r['p50'] * 1000:.1f} ms | "
            f"{r['p99'] * 1000:.1f} ms | "
            f"{r['probes']} | {r['rss'] / 2**20:.0f} MiB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
