"""Load generators: wrk (pinned to its own core), a sequential batch-upsert client, and a
bare HTTP/1.1 poster for load generators that share the server's cores."""

from __future__ import annotations

import asyncio
import math
import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

SCRIPTS = Path(__file__).resolve().parent / "wrk"
TIMEOUT_S = 5  # a request slower than this counts as a socket timeout
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class Measurement:
    """Throughput and latency of one scenario; `rate` is requests/s or entities/s."""

    rate: float
    p50: float
    p99: float
    requests: int
    errors: int  # non-2xx/3xx responses and socket errors

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_wrk(output: str) -> Measurement:
    """The figures of a `wrk --latency` report (latencies in ms)."""

    def latency(percent: str) -> float:
        if total is not None and total[1] == "0":
            return math.nan  # wrk prints 0.00us when nothing completed
        m = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        if m is None:
            raise ValueError(f"no {percent}% latency in wrk's output:\n{output}")
        return float(m[1]) * _UNIT_MS[m[2]]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in ", output)
    if rate is None or total is None:
        raise ValueError(f"not a wrk report:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx[1]) if non_2xx else 0
    errors += sum(int(n) for n in sockets.groups()) if sockets else 0
    return Measurement(float(rate[1]), latency("50"), latency("99"), int(total[1]), errors)


def wrk(
    url: str,
    duration: int,
    core: int,
    *,
    script: str | None = None,
    connections: int = 32,
    env: dict[str, str] | None = None,
) -> Measurement:
    """`wrk -t1 -c<connections> -d<duration>s --latency` on one core, bounded in time."""
    cmd = ["taskset", "-c", str(core), "wrk", "-t1", f"-c{connections}", f"-d{duration}s"]
    cmd += ["--timeout", f"{TIMEOUT_S}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(SCRIPTS / script)]
    done = subprocess.run(
        [*cmd, url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


async def batch_upsert(base: str, bodies: list[bytes], entities: int) -> Measurement:
    """POST pre-encoded batches one after another, as a loader would; entities/s overall."""
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=120) as client:
        started = time.perf_counter()
        for body in bodies:
            sent = time.perf_counter()
            response = await client.post(
                f"{base}/entityOperations/upsert",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            latencies.append((time.perf_counter() - sent) * 1000)
            if response.status_code not in (201, 204):
                raise RuntimeError(f"upsert answered {response.status_code}: {response.text[:500]}")
        elapsed = time.perf_counter() - started
    return Measurement(
        rate=entities / elapsed,
        p50=percentile(latencies, 50),
        p99=percentile(latencies, 99),
        requests=len(bodies),
        errors=0,
    )


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (what wrk reports)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


class Poster:
    """POSTs over one keep-alive HTTP/1.1 connection, with nothing but the bytes on the wire.

    httpx spends ~4 ms of CPU on a 60 kB POST; when the load generator shares the server's
    cores (PostgreSQL with several workers), that is CPU taken from the server. This client
    writes a prepared request and reads the status line, the headers and a `Content-Length`
    or chunked body: ~0.1 ms.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, target: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        """(status, body) of `POST target`."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        head = (
            f"POST {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode("latin-1") + body)
        lines = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        if "content-length" in headers:
            return status, await self._reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return status, await self._chunks()
        return status, b""

    async def _chunks(self) -> bytes:
        assert self._reader is not None
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()
            self._writer = None
