"""The vehicle fleet's path through the gateway, the store and the safety service, in process.

    .venv/bin/python bench/safety_ingest.py                       # 200 cars, 40 s of driving
    .venv/bin/python bench/safety_ingest.py --without-safety      # the gateway and store alone
    .venv/bin/python bench/safety_ingest.py --drop CabinSensor.Seat.RRIntervals,...
    PYTHONPATH=/other/checkout/src .venv/bin/python bench/safety_ingest.py   # another version

`bench/safety.py` runs the whole thing (Mosquitto, `dalgu serve`, alerts by subscription) and
says whether a core keeps up with a fleet; its figures follow the machine's load. This one
feeds the same messages (`bench/safety.py`'s load fleet: each car a telemetry window and a
wearable message per second) to the device service of an in-process app (SQLite, the safety
service's own config groups) in batches of 100, as the MQTT southbound hands them over, and
measures the process CPU per vehicle-second after the first `--warmup` seconds: what a version
or a signal set costs, comparable across a busy day. Not in it: MQTT framing and PUBACKs, the
notifier, HTTP.

`--drop` leaves signals (VSS paths) out of the messages and the config groups, to see what a
signal set costs. Printed: vehicle-seconds per CPU-second and vehicles one core could follow at
that cost; p50/p99 of a batch's wall time; peak RSS; and the ceiling, the same messages only
parsed (`orjson.loads`), with the path's rate as a ratio to it.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.safety import APIKEY, APIKEY_W, load_fleet
from dalgu.api.app import build_app
from dalgu.devices.service import Message
from dalgu.gateway.mqtt import measure_groups, parse_topic
from dalgu.safety.fleet import stamp
from dalgu.safety.service import config_groups
from dalgu.settings import Settings

BATCH = 100  # messages handed to the device service at once


def messages(
    fleet: list[Any], second: int, start: float, drop: set[str]
) -> list[tuple[Any, bytes]]:
    """(topic, payload) of every car's and wearable's messages of one second."""
    out = []
    for car in fleet:
        vehicle, band = car.seconds[second]
        for apikey, device, groups in (
            (APIKEY, car.name, vehicle),
            (APIKEY_W, f"{car.name}-band", band),
        ):
            for group in groups:
                payload = {k: v for k, v in group.items() if k not in drop and k != "t"}
                if isinstance(payload.get("samples"), dict):
                    payload["samples"] = {
                        k: v for k, v in payload["samples"].items() if k not in drop
                    }
                payload["TimeInstant"] = stamp(start + group["t"])
                topic = parse_topic(f"/{apikey}/{device}/attrs")
                out.append((topic, orjson.dumps(payload)))
    return out


def parser(topic: Any, payload: bytes) -> Message:
    return Message(topic.apikey, topic.device_id, lambda: measure_groups(topic, payload))


def main() -> int:
    parser_ = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser_.add_argument("--vehicles", type=int, default=200)
    parser_.add_argument("--seconds", type=int, default=40)
    parser_.add_argument("--warmup", type=int, default=10)
    parser_.add_argument("--distinct", type=int, default=6, help="generated drives shared")
    parser_.add_argument("--without-safety", action="store_true")
    parser_.add_argument("--drop", default="", help="VSS paths to leave out, comma-separated")
    args = parser_.parse_args()
    drop = {name for name in args.drop.split(",") if name}
    fleet = load_fleet(args.vehicles, args.seconds, distinct=args.distinct)
    start = float(int(time.time())) - args.seconds - 5
    seconds = [messages(fleet, s, start, drop) for s in range(args.seconds)]
    with tempfile.TemporaryDirectory(prefix="dalgu-bench-fleet-") as tmp:
        settings = Settings.load(
            sqlite_path=Path(tmp) / "fleet.db",
            mqtt_broker="off",
            notifier="off",
            safety=not args.without_safety,
            iot_north_port=0,
            iot_south_port=0,
            coap_port=0,
        )
        with TestClient(build_app(settings)) as client:
            groups = config_groups(APIKEY, APIKEY_W)
            for service in groups["services"]:
                service["attributes"] = [
                    a for a in service["attributes"] if a["object_id"] not in drop
                ]
            assert client.post("/iot/services", json=groups).status_code == 201
            devices = client.app.state.dalgu.devices  # type: ignore[attr-defined]
            batch_walls: list[float] = []

            async def feed(first: int, last: int) -> None:
                for second in range(first, last):
                    todo = seconds[second]
                    for i in range(0, len(todo), BATCH):
                        began = time.perf_counter()
                        outcomes = await devices.receive_batch(
                            "mqtt", [parser(t, p) for t, p in todo[i : i + BATCH]]
                        )
                        if first >= args.warmup:
                            batch_walls.append(time.perf_counter() - began)
                        refused = [o for o in outcomes if o is not None]
                        assert not refused, refused[:2]

            client.portal.call(feed, 0, args.warmup)  # type: ignore[union-attr]
            cpu = time.process_time()
            client.portal.call(feed, args.warmup, args.seconds)  # type: ignore[union-attr]
            cpu = time.process_time() - cpu
    judged = args.vehicles * (args.seconds - args.warmup)
    began = time.process_time()  # the ceiling: the same messages, only parsed
    for second in range(args.warmup, args.seconds):
        for _, payload in seconds[second]:
            orjson.loads(payload)
    ceiling = judged / (time.process_time() - began)
    batch_walls.sort()
    p50 = batch_walls[len(batch_walls) // 2]
    p99 = batch_walls[min(len(batch_walls) - 1, int(0.99 * len(batch_walls)))]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = judged / cpu
    print(
        f"{args.vehicles} vehicles x {args.seconds - args.warmup} s "
        f"(safety {'off' if args.without_safety else 'on'}"
        f"{', without ' + str(len(drop)) + ' signals' if drop else ''}): "
        f"{cpu / judged * 1e3:.3f} ms CPU per vehicle-second = {rate:,.0f} vehicle-seconds "
        f"per CPU-second (one core: ~{rate:,.0f} vehicles); load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"batch of {BATCH} messages: p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms; "
        f"ceiling (messages parsed only) {ceiling:,.0f} vehicle-seconds per CPU-second, "
        f"ratio {rate / ceiling:.4f}; peak RSS {peak:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
