"""The CoAP southbound under load: devices posting UltraLight 2.0 measures
(`POST coap://…/iot/d?k=&i=`, confirmable), as constrained devices do.

Starts `dalgu serve` (SQLite, one worker, no MQTT) pinned to the first core with its CoAP port
on a free loopback port, provisions a service group (`Sensor`: temperature, humidity) on the
IoT Agent provisioning port, lets each of `--devices` devices post once (its first measure
provisions it), then keeps `--window` confirmable requests in flight from the second core for
`--duration` seconds (aiocoap's client, the devices in turn): measures/s, p50/p99 per request
(2.04 comes once the measure is written), the server's CPU per measure. The ceiling is a bare
aiocoap server answering 2.04 (`bench/coap_ceiling.py`) on the same core, driven by the same
client in the same run: it bounds what this client can offer too. Afterwards the server is
stopped and the history rows counted in its file: every measure answered 2.04 must be there.

    .venv/bin/python bench/gateway_coap.py [--devices 1000] [--duration 8] [--window 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiocoap
import psutil

from gateway_http import APIKEY, gateway_env, start_gateway, stored_measures
from loadgen import percentile
from processes import (
    commit,
    cores,
    free_port,
    guard,
    memory_line,
    stop_all,
)


async def _drive(port: int, devices: int, seconds: float, window: int) -> tuple[int, list[float]]:
    """`window` clients posting one after another for `seconds`: (2.04 answers, latencies)."""
    context = await aiocoap.Context.create_client_context()
    latencies: list[float] = []
    changed = 0
    deadline = time.perf_counter() + seconds
    counter = 0

    async def client() -> None:
        nonlocal changed, counter
        while time.perf_counter() < deadline:
            counter += 1
            n = counter
            uri = f"coap://127.0.0.1:{port}/iot/d?k={APIKEY}&i=dev-{n % devices:06d}"
            payload = f"t|{15 + n % 200 / 10:.1f}|h|{30 + n % 50}".encode()
            sent = time.perf_counter()
            answer = await context.request(
                aiocoap.Message(code=aiocoap.POST, uri=uri, payload=payload)
            ).response
            latencies.append((time.perf_counter() - sent) * 1000)
            changed += answer.code == aiocoap.CHANGED

    try:
        await asyncio.gather(*(client() for _ in range(window)))
    finally:
        await context.shutdown()
    return changed, latencies


def _row(label: str, answered: int, latencies: list[float], seconds: float) -> str:
    return (
        f"| {label} | {answered / seconds:,.0f} | {percentile(latencies, 50):.2f} / "
        f"{percentile(latencies, 99):.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--window", type=int, default=32)
    args = parser.parse_args()
    server_core, client_core = cores()
    os.sched_setaffinity(0, {client_core})
    guard(1800)
    tmp = Path(tempfile.mkdtemp(prefix="dalgu-gateway-coap-"))
    db = tmp / "bench.db"
    port, north, coap = free_port(), free_port(), free_port()
    env = gateway_env(db, port, north, coap=coap)
    load = os.getloadavg()
    try:
        ceiling_port = free_port()
        ceiling = subprocess.Popen(
            [
                "taskset",
                "-c",
                str(server_core),
                sys.executable,
                str(Path(__file__).with_name("coap_ceiling.py")),
                str(ceiling_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            time.sleep(1.5)  # aiocoap binds its socket
            bare = psutil.Process(ceiling.pid)
            before = sum(bare.cpu_times()[:2])
            top, top_latencies = asyncio.run(
                _drive(ceiling_port, args.devices, args.duration, args.window)
            )
            top_cpu = (sum(bare.cpu_times()[:2]) - before) / max(top, 1)
        finally:
            ceiling.terminate()
            ceiling.wait(10)
        server = start_gateway(env, port, north, server_core, tmp)
        asyncio.run(_provision(coap, args.devices))
        cpu = server.cpu_seconds()
        answered, latencies = asyncio.run(_drive(coap, args.devices, args.duration, args.window))
        used = server.cpu_seconds() - cpu
        closing = memory_line(server, load)
        server.stop()
        stored = stored_measures(db)
        acknowledged = answered + args.devices
        print(f"commit {commit()}, {args.devices:,} devices, SQLite, {args.window} in flight\n")
        print(
            "| scenario | measures/s | p50 / p99 ms | server CPU µs/measure "
            "| ratio to the ceiling |"
        )
        print("|---|---|---|---|---|")
        print(
            _row("bare aiocoap server (ceiling)", top, top_latencies, args.duration)
            + f" | {top_cpu * 1e6:,.0f} | |"
        )
        rate = answered / args.duration
        print(
            _row("POST /iot/d, UltraLight", answered, latencies, args.duration)
            + f" | {used / max(answered, 1) * 1e6:,.0f} | {rate / (top / args.duration):.3f} |"
        )
        print(
            f"\n{acknowledged:,} measures answered 2.04 (first ones included), {stored:,} in the "
            "history after the server stopped" + ("" if stored >= acknowledged else ": SOME LOST")
        )
        print(closing)
        return 0 if stored >= acknowledged else 1
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


async def _provision(port: int, devices: int) -> None:
    """Each device's first measure, 32 at a time: it provisions the device."""
    context = await aiocoap.Context.create_client_context()
    try:
        for start in range(0, devices, 32):
            sends = [
                context.request(
                    aiocoap.Message(
                        code=aiocoap.POST,
                        uri=f"coap://127.0.0.1:{port}/iot/d?k={APIKEY}&i=dev-{i:06d}",
                        payload=b"t|20|h|40",
                    )
                ).response
                for i in range(start, min(devices, start + 32))
            ]
            for answer in await asyncio.gather(*sends):
                if answer.code != aiocoap.CHANGED:
                    raise RuntimeError(f"a first measure answered {answer.code}")
    finally:
        await context.shutdown()


if __name__ == "__main__":
    sys.exit(main())
