"""Vehicle safety benchmark: how many cars one machine follows in real time through the gateway.

    .venv/bin/python bench/safety.py                         # 100, 300 and 1,000 vehicles
    .venv/bin/python bench/safety.py --vehicles 200 --seconds 60

Each vehicle's telematics unit sends its 10 Hz samples once a second, as one MQTT message: a
telemetry window (`dalgu.safety.telemetry_window`: one measure group, the newest values and the
second's samples with their times) or, with `--groups`, a JSON array of ten timestamped
measure groups (the IoT Agent JSON form; ten entity updates a second). Its driver's wearable
sends one message a second (RR intervals, SpO2, quality): 11 samples and 2 messages per
vehicle-second, 2 or 11 measure groups, through a Mosquitto of the run's own into `dalgu serve`
(one worker, SQLite, safety service on) pinned to one core; the harness (publishing QoS 1 with
up to 64 messages awaiting acknowledgement) and Mosquitto share the other. Per fleet size it:

1. measures the broker's own rate for messages of the telemetry's size, one publisher to one
   plain subscriber (the ceiling of the run; the fleet has one publisher too);
2. sends the first ten minutes (the drivers' baseline) of `--probes` vehicles as fast as the
   gateway stores them; these drives have medical emergencies scheduled in the live part;
3. runs every vehicle live for `--seconds` (the other vehicles' drives start then: they are in
   their own baseline minutes, which cost the detectors about what judging does), and meanwhile
   samples how far the stored state of a vehicle lags the wall clock (ingest lag);
4. takes every alert notified by a subscription on `Alert` to a receiver of the harness: the
   alert latency is the time from the end of the second that raised it (the data of that second
   was published then, the sample stamps being wall-clock times) to its notification — the
   latency beyond the detector's own window;
5. samples the server's peak RSS and its CPU time (its notifier process included): over the
   live seconds as a share of its one core (well under 1.0 with a growing lag: the core was
   not the server's to use, e.g. other work on a shared machine), and from the first live
   second to the end of the drain per vehicle-second sent (its cost; its inverse is how many
   vehicles one core would follow at that cost).

`--without-safety` runs the same fleet with the safety service off (the gateway and the store
alone): the two runs' costs per vehicle-second tell the detectors' part from the rest.

A fleet is followed in real time when the ingest lag stays bounded (it does not grow over the
run) and the alert latency p99 is under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.processes import Server, cores, free_port, guard, stop_all
from dalgu.safety.fleet import SimulatedVehicle, on_the_wire, stamp, stream
from dalgu.safety.generator import generate_scenario
from dalgu.safety.plan import CALIBRATION
from dalgu.safety.scenario import Event
from dalgu.safety.service import config_groups

APIKEY, APIKEY_W = "bench-car", "bench-band"
PROBE_EVENTS = (
    ("cardiac", "asystole"),
    ("hypoxaemia", "desaturation"),
    ("cardiac", "bradycardia"),
    ("incapacitation", "loss-of-control"),
    ("cardiac", "tachycardia"),
)


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class Receiver:
    """Notifications POSTed to the harness: (received at, alert entity)."""

    def __init__(self) -> None:
        self.alerts: list[tuple[float, dict[str, Any]]] = []
        alerts = self.alerts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                now = time.time()
                alerts.extend((now, entity) for entity in body.get("data", []))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Publisher:
    """One MQTT connection, QoS 1, up to `INFLIGHT` publishes awaiting their acknowledgement
    (in order on the connection: a car's messages stay in order). One publish at a time, each
    acknowledged before the next, reached 1,900-3,900 messages/s on a shared core: under the
    2,000/s of 1,000 vehicles."""

    INFLIGHT = 64

    def __init__(self, port: int) -> None:
        self.client = aiomqtt.Client(
            "127.0.0.1",
            port,
            identifier=f"bench-fleet-{uuid.uuid4().hex[:6]}",
            max_inflight_messages=self.INFLIGHT,
        )
        # up to INFLIGHT publishes wait on purpose: not a warning line for each one
        self.client.pending_calls_threshold = self.INFLIGHT
        self.sent = 0
        self._slots = asyncio.Semaphore(self.INFLIGHT)
        self._pending: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Publisher:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drain()
        await self.client.__aexit__(None, None, None)

    async def publish(self, kind: str, device: str, payload: bytes) -> None:
        apikey = APIKEY_W if kind == "wearable" else APIKEY
        await self._slots.acquire()
        task = asyncio.create_task(self._send(f"/{apikey}/{device}/attrs", payload))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        await asyncio.sleep(0)  # the task hands its message to the client now, in order

    async def _send(self, topic: str, payload: bytes) -> None:
        try:
            await self.client.publish(topic, payload, qos=1)
            self.sent += 1
        finally:
            self._slots.release()

    async def drain(self) -> None:
        """Every publish so far acknowledged."""
        while self._pending:
            await asyncio.gather(*list(self._pending))


async def broker_ceiling(port: int, payload: bytes, messages: int) -> float:
    """Messages/s of this size from one publisher to one plain subscriber (QoS 1)."""
    topic = f"bench/ceiling/{uuid.uuid4().hex[:8]}"
    done = asyncio.Event()
    received = 0
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"sub-{uuid.uuid4().hex[:6]}") as sub:
        await sub.subscribe(topic, qos=1)

        async def listen() -> None:
            nonlocal received
            async for _ in sub.messages:
                received += 1
                if received >= messages:
                    done.set()
                    return

        listener = asyncio.create_task(listen())
        async with Publisher(port) as pub:
            start = time.perf_counter()
            for _ in range(messages):
                await pub.client.publish(topic, payload, qos=1)
            await asyncio.wait_for(done.wait(), 120)
            elapsed = time.perf_counter() - start
        listener.cancel()
    return messages / elapsed


def probe_fleet(
    count: int, seconds: float, seed: int = 7000, windows: bool = True
) -> list[SimulatedVehicle]:
    """Drives with a medical emergency every few seconds of the live part."""
    fleet = []
    for n in range(count):
        kind, subtype = PROBE_EVENTS[n % len(PROBE_EVENTS)]
        onset = CALIBRATION + 8.0 + (seconds - 30.0) * n / max(count, 1)
        scenario = generate_scenario(
            seed + n,
            duration=CALIBRATION + seconds,
            events=[Event(kind, onset, onset + 90.0, {"subtype": subtype})],
        )
        fleet.append(on_the_wire(f"probe-{n:03d}", scenario, windows=windows))
    return fleet


def load_fleet(
    count: int, seconds: float, distinct: int = 24, seed: int = 8000, windows: bool = True
) -> list[Any]:
    """`count` cars driving `distinct` generated drives (no events), from their start."""
    drives = [
        generate_scenario(seed + n, duration=seconds + 5.0, mix="quiet")
        for n in range(min(count, distinct))
    ]
    return [
        on_the_wire(f"car-{n:05d}", drives[n % len(drives)], windows=windows) for n in range(count)
    ]


async def stored_at(client: httpx.AsyncClient, api: str, vehicle: str) -> str:
    response = await client.get(f"{api}/entities/urn:ngsi-ld:Vehicle:{vehicle}?attrs=speed")
    if response.status_code != 200:
        return ""
    return str(response.json().get("speed", {}).get("observedAt", ""))


async def run_fleet(
    api: str,
    port: int,
    vehicles: int,
    probes: int,
    seconds: float,
    cpu: Callable[[], float] = lambda: 0.0,
    windows: bool = True,
) -> dict[str, Any]:
    receiver = Receiver()
    probe = probe_fleet(probes, seconds, windows=windows)
    load = load_fleet(max(0, vehicles - probes), seconds, windows=windows)
    lags: list[float] = []
    behind: list[float] = []  # how late the harness began publishing each second
    used: list[tuple[float, float]] = []  # (wall clock, the server's CPU seconds) while live
    try:
        async with (
            httpx.AsyncClient(timeout=30) as client,
            Publisher(port) as publisher,
        ):
            subscription = {
                "type": "Subscription",
                "entities": [{"type": "Alert"}],
                "notification": {"endpoint": {"uri": receiver.url, "accept": "application/json"}},
            }
            response = await client.post(f"{api}/subscriptions", json=subscription)
            assert response.status_code == 201, response.text
            warmup = 10.0 + 0.01 * probes * CALIBRATION
            # when every drive's live part begins: on a whole second, as a telematics unit
            # sends each second's samples when the second ends
            live = float(int(time.time() + warmup))
            probe_start = live - CALIBRATION

            async def settle(vehicle: SimulatedVehicle, second: int) -> None:
                last = stamp(probe_start + vehicle.seconds[second][0][-1]["t"])
                deadline = time.monotonic() + 120
                while await stored_at(client, api, vehicle.name) < last:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the baseline minutes were not stored in time")
                    await asyncio.sleep(0.05)

            stop = asyncio.Event()

            async def watch() -> None:
                """Ingest lag: wall clock minus a car's last stored sample (10 Hz stamps)."""
                n = 0
                while not stop.is_set():
                    await asyncio.sleep(1.0)
                    if time.time() < live + 2:
                        continue
                    used.append((time.time(), cpu()))
                    # the freshest of a few cars (one may be in a telematics gap)
                    cars = (load or probe)[n : n + 5] or (load or probe)[:5]
                    n = (n + 5) % len(load or probe)
                    stamps = [await stored_at(client, api, car.name) for car in cars]
                    if any(stamps):
                        # behind the end of the second that sample was sent with
                        lags.append(time.time() - (int(epoch(max(stamps))) + 1))

            watcher = asyncio.create_task(watch())
            began = time.time()
            await asyncio.gather(
                stream(
                    probe,
                    publisher.publish,
                    start=probe_start,
                    fast_until=int(CALIBRATION),
                    live_at=live,
                    settle=settle,
                ),
                stream(
                    load,
                    publisher.publish,
                    start=live,
                    live_at=live,
                    on_second=lambda second: behind.append(time.time() - (live + second + 1)),
                ),
            )
            await publisher.drain()
            ended = time.time()
            stop.set()
            await watcher
            late = max(0.0, began + warmup - live)  # the warm-up overran its guess
            # drain: until the last car's last second is stored
            last_car = (load or probe)[-1]
            sent_last = max(g["t"] for car, _ in last_car.seconds for g in car)
            final = stamp((live if load else probe_start) + sent_last)
            while await stored_at(client, api, last_car.name) < final:
                if time.time() - ended > 300:
                    break
                await asyncio.sleep(0.05)
            drained = time.time() - ended
            used.append((time.time(), cpu()))  # every second sent is judged and stored now
            await asyncio.sleep(3)  # the last notifications
    finally:
        receiver.close()
    latencies = []
    for received, entity in receiver.alerts:
        if not str(entity.get("alertSource", {}).get("object", "")).endswith(
            tuple(f"probe-{n:03d}" for n in range(probes))
        ):
            continue
        latencies.append(received - epoch(entity["dateIssued"]["value"]))
    return {
        "messages": publisher.sent,
        "live_messages": 2 * vehicles * seconds,
        "publisher_late_p99": percentile(behind, 0.99),
        "lag_p50": percentile(lags, 0.5),
        "lag_max": max(lags) if lags else float("nan"),
        "drained": drained,
        "late": late,
        "alerts": len(latencies),
        "all_alerts": len(receiver.alerts),
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "wall": ended - live,
        # while live (up to the last tick before the drain): the share of its core it had
        "cpu_share": (
            (used[-2][1] - used[0][1]) / (used[-2][0] - used[0][0])
            if len(used) > 2
            else float("nan")
        ),
        # from the first live tick to the end of the drain: what each vehicle-second cost it
        "cpu_per_vehicle_second": (
            (used[-1][1] - used[0][1]) / (vehicles * (ended - used[0][0]))
            if len(used) > 1
            else float("nan")
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vehicles", type=int, nargs="*", default=[100, 300, 1000])
    parser.add_argument("--seconds", type=float, default=60.0, help="Live seconds per fleet.")
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument("--budget", type=int, default=1800)
    parser.add_argument(
        "--groups",
        action="store_true",
        help="Telemetry as ten measure groups a message (the IoT Agent JSON array), not as a "
        "telemetry window (one group a message).",
    )
    parser.add_argument(
        "--without-safety",
        action="store_true",
        help="The safety service off: the gateway and the store alone (no alerts).",
    )
    args = parser.parse_args()
    guard(args.budget)
    server_core, client_core = cores()
    os.sched_setaffinity(0, {client_core})
    rows = []
    brokers: list[subprocess.Popen[bytes]] = []
    try:
        for vehicles in args.vehicles:
            tmp = Path(tempfile.mkdtemp(prefix="dalgu-safety-bench-"))
            api_port, north, mqtt_port = free_port(), free_port(), free_port()
            conf = tmp / "mosquitto.conf"
            conf.write_text(
                f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\n"
                "max_queued_messages 0\nmax_inflight_messages 0\npersistence false\n"
            )
            broker = subprocess.Popen(
                ["taskset", "-c", str(client_core), "mosquitto", "-c", str(conf)],
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
                "DALGU_MQTT_BROKER": "external",
                "DALGU_MQTT_PORT": str(mqtt_port),
                "DALGU_MQTT_CLIENT_ID": f"dalgu-bench-{uuid.uuid4().hex[:6]}",
                "DALGU_SAFETY": "false" if args.without_safety else "true",
            }
            server = Server(
                f"dalgu-safety-{vehicles}",
                [str(Path(sys.executable)), "-m", "dalgu", "serve"],
                env,
                f"http://127.0.0.1:{api_port}/health",
                server_core,
                tmp / "server.log",
            )
            groups = config_groups(APIKEY, APIKEY_W)
            windows = not args.groups
            httpx.post(f"http://127.0.0.1:{north}/iot/services", json=groups)
            time.sleep(1.0)  # the southbound subscribes
            sample = load_fleet(1, 10, windows=windows)[0].messages(3, time.time())[0] or b""
            ceiling = asyncio.run(broker_ceiling(mqtt_port, sample, 20000))
            api = f"http://127.0.0.1:{api_port}/ngsi-ld/v1"
            result = asyncio.run(
                run_fleet(
                    api,
                    mqtt_port,
                    vehicles,
                    args.probes,
                    args.seconds,
                    server.cpu_seconds,
                    windows=windows,
                )
            )
            result.update(vehicles=vehicles, ceiling=ceiling, rss=server.peak)
            rows.append(result)
            print(result, flush=True)
            server.stop()
            broker.terminate()
            broker.wait(10)
    finally:
        stop_all()
        for broker in brokers:
            if broker.poll() is None:
                broker.terminate()
                broker.wait(10)
    safety = "off (gateway and store alone)" if args.without_safety else "on"
    telemetry = "ten measure groups a message" if args.groups else "telemetry windows"
    per_second = 11 if args.groups else 2  # measure groups per vehicle-second
    print(
        f"\n{args.seconds:.0f} live seconds per fleet; safety service {safety}; telemetry as "
        f"{telemetry} ({per_second} measure groups per vehicle-second); load average "
        f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        "| vehicles | samples/s offered | messages/s | broker ceiling | ratio "
        "| harness late p99 | ingest lag p50 / max | drain after | alerts "
        "| alert latency p50 / p99 | server CPU share live | server CPU per vehicle-s "
        "| one core at that cost | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        rate = 2 * r["vehicles"]
        print(
            f"| {r['vehicles']:,} | {11 * r['vehicles']:,} | {rate:,} | "
            f"{r['ceiling']:,.0f} msg/s | {rate / r['ceiling']:.2f} | "
            f"{r['publisher_late_p99']:.2f} s | {r['lag_p50']:.2f} / {r['lag_max']:.2f} s | "
            f"{r['drained']:.1f} s | "
            f"{r['alerts']} | {r['p50'] * 1000:.0f} / {r['p99'] * 1000:.0f} ms | "
            f"{r['cpu_share']:.2f} | {r['cpu_per_vehicle_second'] * 1000:.2f} ms | "
            f"~{1 / r['cpu_per_vehicle_second']:,.0f} vehicles | {r['rss'] / 2**20:.0f} MiB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
