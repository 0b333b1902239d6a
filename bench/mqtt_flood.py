"""An MQTT connection flood on the embedded broker, and the HTTP API's latency meanwhile.

    .venv/bin/python bench/mqtt_flood.py                         # this checkout
    .venv/bin/python bench/mqtt_flood.py --old /tmp/old/src      # and an older one, same run

For each checkout it starts `dalgu serve` (one worker, SQLite in a temporary directory,
embedded broker) on ports 22300-22399, then:

1. times `GET /ngsi-ld/v1/entities/<id>` 60 times on the quiet server: the ceiling;
2. opens `--connections` MQTT connections as fast as it can from one thread (CONNECT, then a
   SUBSCRIBE with `--filters` filters of an API key nobody provisioned, and keeps them open),
   while the main thread times the same GET every 0.1 s for `--seconds`;
3. prints the connections the broker accepted, the GET's p50/p99 during the flood, their
   ratio to the ceiling, and the server's peak RSS (its processes summed).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
ENTITY = "urn:ngsi-ld:Thing:flood1"


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _length(size: int) -> bytes:
    out = b""
    while True:
        size, digit = divmod(size, 128)
        out += bytes([digit | (0x80 if size else 0)])
        if not size:
            return out


def connect_and_subscribe(index: int, filters: int) -> bytes:
    body = _string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 0) + _string(f"fl{index}")
    out = b"\x10" + _length(len(body)) + body
    topics = b"".join(_string(f"/floodkey/d{index}/s{j}") + b"\x01" for j in range(filters))
    sub = struct.pack("!H", 1) + topics
    return out + b"\x82" + _length(len(sub)) + sub


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def get(port: int) -> float:
    began = time.perf_counter()
    try:
        url = f"http://127.0.0.1:{port}/ngsi-ld/v1/entities/{ENTITY}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            answer.read()
    except OSError:
        return 30.0
    return time.perf_counter() - began


def run(label: str, pythonpath: str | None, base: int, args: argparse.Namespace) -> None:
    api, mqtt = base, base + 1
    folder = Path(tempfile.mkdtemp(prefix="dalgu-flood-"))
    env = {
        **os.environ,
        "DALGU_HOST": "127.0.0.1",
        "DALGU_PORT": str(api),
        "DALGU_WORKERS": "1",
        "DALGU_SQLITE_PATH": str(folder / "d.db"),
        "DALGU_MQTT_PORT": str(mqtt),
        "DALGU_IOT_NORTH_PORT": str(base + 2),
        "DALGU_IOT_SOUTH_PORT": str(base + 3),
        "DALGU_COAP_PORT": "0",
    }
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "dalgu", "serve"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{api}/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.3)
        entity = f'{{"id": "{ENTITY}", "type": "Thing", "t": {{"type": "Property", "value": 1}}}}'
        urllib.request.urlopen(
            urllib.request.Request(
                f"http://127.0.0.1:{api}/ngsi-ld/v1/entities",
                data=entity.encode(),
                headers={"Content-Type": "application/json"},
            )
        ).read()
        process = psutil.Process(server.pid)
        ceiling = [get(api) for _ in range(60)]
        opened: list[socket.socket] = []
        stop = threading.Event()

        def flood() -> None:
            for index in range(args.connections):
                if stop.is_set():
                    return
                try:
                    sock = socket.create_connection(("127.0.0.1", mqtt), timeout=3)
                    sock.sendall(connect_and_subscribe(index, args.filters))
                    opened.append(sock)
                except OSError:
                    pass

        thread = threading.Thread(target=flood, daemon=True)
        began = time.monotonic()
        thread.start()
        during, peak = [], 0
        while time.monotonic() - began < args.seconds:
            during.append(get(api))
            family = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in family))
            time.sleep(0.1)
        stop.set()
        alive = 0
        for sock in opened:
            sock.setblocking(False)
            try:
                alive += sock.recv(1) != b""
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        p50, p99 = percentile(during, 0.5), percentile(during, 0.99)
        floor = percentile(ceiling, 0.5)
        print(
            f"{label}: {args.connections} connections x {args.filters} filters in "
            f"{args.seconds:g} s: {alive} still open; GET by id quiet p50 {floor * 1000:.1f} ms; "
            f"during the flood n={len(during)} p50 {p50 * 1000:.1f} ms p99 {p99 * 1000:.1f} ms "
            f"max {max(during) * 1000:.0f} ms (p50 {p50 / floor:.1f}x the quiet one); "
            f"peak RSS {peak / 2**20:.0f} MiB"
        )
        for sock in opened:
            sock.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", help="PYTHONPATH of an older checkout's src, run first")
    parser.add_argument("--connections", type=int, default=600)
    parser.add_argument("--filters", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.old:
        run("old", args.old, 22310, args)
    run("new", str(ROOT / "src"), 22320, args)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
