"""Reading request bodies: `dalgu.jsonbytes.loads` (what every JSON API and the gateway's JSON
measures read with) against `orjson.loads` alone, its ceiling, in the same run.

`loads` adds a check for integers beyond 64 bits (a byte translation and a search for a
19-digit run; the standard library's parser only when one is found). For the benchmark's
vehicles (`bench/vehicles.py`), one at a time as single creates send them, and 1,000 at a time
as a batch upsert does, it prints bodies/s, p50/p99 per body and the peak RSS of this process,
and each rate as a ratio to `orjson.loads` on the same bodies.

    .venv/bin/python bench/bodies.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from typing import Any

import orjson

from dalgu.jsonbytes import loads
from vehicles import batches, vehicle


def _run(read: Callable[[bytearray], Any], bodies: list[bytearray], seconds: float) -> list[float]:
    """The time of each read (s), going round `bodies` for about `seconds`."""
    times: list[float] = []
    clock = time.perf_counter
    deadline = clock() + seconds
    while clock() < deadline:
        for body in bodies:
            began = clock()
            read(body)
            times.append(clock() - began)
    return times


def _line(name: str, times: list[float], ceiling: float | None) -> tuple[str, float]:
    times.sort()
    rate = len(times) / sum(times)
    p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
    ratio = f", {rate / ceiling:.2f} of orjson.loads" if ceiling else ""
    line = f"  {name:<16} {rate:>12,.0f} bodies/s, p50 {p50 * 1e6:8.2f} µs, "
    return line + f"p99 {p99 * 1e6:8.2f} µs{ratio}", rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per reader and body size")
    args = parser.parse_args()
    singles = [bytearray(orjson.dumps(vehicle(i))) for i in range(1000)]
    batch = [bytearray(b) for b in batches(2000)]
    for label, bodies in (("one vehicle (~450 bytes)", singles), ("1,000 vehicles", batch)):
        print(f"{label}:")
        ceiling_line, ceiling = _line(
            "orjson.loads", _run(orjson.loads, bodies, args.seconds), None
        )
        print(ceiling_line)
        print(_line("jsonbytes.loads", _run(loads, bodies, args.seconds), ceiling)[0])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
