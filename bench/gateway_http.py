"""The HTTP southbound under load: devices posting UltraLight 2.0 measures (`POST /iot/d`),
as a fleet on the IoT Agent's HTTP port (7896) does.

Starts `dalgu serve` (SQLite, one worker, no MQTT) pinned to the first core with its IoT Agent
ports on free loopback ports, provisions a service group (`Sensor`: temperature, humidity),
lets each of `--devices` devices post once (its first measure provisions it), then drives
`wrk -c<n>` from the second core (`bench/wrk/ultralight.lua`: the devices in turn, one measure
each request) for each connection count: measures/s, p50/p99 per request (a 200 comes once
the measure is written: entity and history), and the server's CPU per measure. The ceiling is
the hello-world (`bench/hello.py:app`) driven by the same script on granian, in the same run
(the southbound port is uvicorn inside the server process, as FIWARE's agent listens apart
from its broker). Afterwards the server is stopped and the history rows of the run counted in
the database file: every measure answered 200 must be there.

    .venv/bin/python bench/gateway_http.py [--devices 1000] [--duration 8] [--connections 1,32]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import httpx

from loadgen import wrk
from processes import (
    Server,
    commit,
    cores,
    dalgu_command,
    dalgu_env,
    free_port,
    granian_command,
    guard,
    memory_line,
    stop_all,
)

APIKEY = "bench-key"
GROUP = {
    "apikey": APIKEY,
    "entity_type": "Sensor",
    "resource": "/iot/d",
    "attributes": [
        {"object_id": "t", "name": "temperature", "type": "Number"},
        {"object_id": "h", "name": "humidity", "type": "Number"},
    ],
}


def stored_measures(db: Path) -> int:
    """History rows of the measures' temperatures in the stopped server's database."""
    with sqlite3.connect(db) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM instances WHERE name LIKE '%temperature'"
        ).fetchone()
    return int(count)


def gateway_env(
    db: Path, port: int, north: int, *, south: int = 0, coap: int = 0
) -> dict[str, str]:
    """A one-worker SQLite Dalgu on `port` with its IoT Agent ports (0: closed), no MQTT."""
    return {
        **dalgu_env("sqlite", port, db),
        "DALGU_IOT_NORTH_PORT": str(north),
        "DALGU_IOT_SOUTH_PORT": str(south),
        "DALGU_COAP_PORT": str(coap),
        "DALGU_MQTT_BROKER": "off",
    }


def start_gateway(env: dict[str, str], port: int, north: int, core: int, tmp: Path) -> Server:
    """`dalgu serve` with `env` pinned to `core`, GROUP provisioned on its `north` port."""
    server = Server(
        "dalgu", dalgu_command(), env, f"http://127.0.0.1:{port}/health", core, tmp / "server.log"
    )
    answer = httpx.post(f"http://127.0.0.1:{north}/iot/services", json={"services": [GROUP]})
    if answer.status_code != 201:
        server.stop()
        raise RuntimeError(f"the service group answered {answer.status_code}: {answer.text}")
    return server


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", default="1,32")
    args = parser.parse_args()
    server_core, client_core = cores()
    os.sched_setaffinity(0, {client_core})
    guard(1800)
    tmp = Path(tempfile.mkdtemp(prefix="dalgu-gateway-http-"))
    db = tmp / "bench.db"
    port, north, south = free_port(), free_port(), free_port()
    env = gateway_env(db, port, north, south=south)
    script_env = {"BENCH_DEVICES": str(args.devices), "BENCH_APIKEY": APIKEY}
    load = os.getloadavg()
    rows = []
    try:
        hello_port = free_port()
        hello = Server(
            "hello-world",
            granian_command("bench.hello:app", hello_port),
            {},
            f"http://127.0.0.1:{hello_port}/",
            server_core,
            tmp / "hello.log",
        )
        try:
            ceiling = wrk(
                f"http://127.0.0.1:{hello_port}/",
                args.duration,
                client_core,
                script="ultralight.lua",
                env=script_env,
            )
        finally:
            hello.stop()
        server = start_gateway(env, port, north, server_core, tmp)
        southbound = f"http://127.0.0.1:{south}/iot/d"
        with httpx.Client() as client:
            for i in range(args.devices):  # each device's first measure provisions it
                first = client.post(
                    southbound, params={"k": APIKEY, "i": f"dev-{i:06d}"}, content=b"t|20|h|40"
                )
                if first.status_code != 200:
                    raise RuntimeError(f"a first measure answered {first.status_code}")
        answered = args.devices
        for connections in (int(c) for c in args.connections.split(",")):
            cpu = server.cpu_seconds()
            m = wrk(
                southbound,
                args.duration,
                client_core,
                script="ultralight.lua",
                connections=connections,
                env=script_env,
            )
            used = server.cpu_seconds() - cpu
            answered += m.requests - m.errors
            rows.append((connections, m, used / max(m.requests, 1)))
        closing = memory_line(server, load)
        server.stop()
        stored = stored_measures(db)
        print(f"commit {commit()}, {args.devices:,} devices, SQLite\n")
        print(
            "| scenario | conns | measures/s | p50 / p99 ms | errors | server CPU µs/measure "
            "| ratio to the hello-world |"
        )
        print("|---|---|---|---|---|---|---|")
        print(
            f"| hello-world (same script) | 32 | {ceiling.rate:,.0f} | "
            f"{ceiling.p50:.2f} / {ceiling.p99:.2f} | {ceiling.errors} | | |"
        )
        for connections, m, per in rows:
            print(
                f"| POST /iot/d, UltraLight | {connections} | {m.rate:,.0f} | "
                f"{m.p50:.2f} / {m.p99:.2f} | {m.errors} | {per * 1e6:,.0f} "
                f"| {m.rate / ceiling.rate:.3f} |"
            )
        print(
            f"\n{answered:,} measures answered 200 (first ones included), {stored:,} in the "
            f"history after the server stopped" + ("" if stored >= answered else ": SOME LOST")
        )
        print(closing)
        return 0 if stored >= answered else 1
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
