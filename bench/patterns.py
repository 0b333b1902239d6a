"""Client regular expressions (`idPattern`, `q` `~=`): RE2 through `dalgu.query.regex.searches`
(what the SQLite store's `regexp` function, the notifier and the registrations run) against
Python's `re` on the same patterns and texts, its ceiling, in the same run.

RE2 matches in time linear in the text whatever the pattern (Python's `re` backtracked for
minutes on `(a+)+$`); it costs more per call. For 100,000 benchmark ids
(`urn:ngsi-ld:Vehicle:bench-NNNNNN`) and patterns of the kinds clients send, it prints
searches/s, p50/p99 per search, the time a whole scan of the ids takes (what an SQLite query
whose pattern names no prefix or literal pays) and the peak RSS of this process, each rate as
a ratio to `re`. The last pattern is the catastrophic one, on 200 ids of 30 letters: `re` is
not run on it.

    .venv/bin/python bench/patterns.py [--ids 100000]
"""

from __future__ import annotations

import argparse
import re
import resource
import time
from collections.abc import Callable

from dalgu.query.regex import searches

PATTERNS = [
    ".*bench-0012.*",  # a literal inside (the store tests it with instr first)
    "^urn:ngsi-ld:Vehicle:bench-00",  # an anchored prefix (the store seeks it in the id index)
    "(?i)VEHICLE:BENCH-0999",  # case-insensitive: no text the store can test first
    "bench-[0-9]{2}7[0-9]+$",
]


def _searcher(pattern: str) -> Callable[[str], bool]:
    return lambda text: searches(pattern, text)


def _times(search: Callable[[str], object], texts: list[str]) -> list[float]:
    clock = time.perf_counter
    times = []
    for text in texts:
        began = clock()
        search(text)
        times.append(clock() - began)
    return times


def _line(name: str, times: list[float], ceiling: float | None) -> tuple[str, float]:
    whole = sum(times)
    times = sorted(times)
    rate = len(times) / whole
    p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
    ratio = f", {rate / ceiling:.2f} of re" if ceiling else ""
    return (
        f"  {name:<4} {rate:>12,.0f} searches/s, p50 {p50 * 1e6:6.2f} µs, "
        f"p99 {p99 * 1e6:6.2f} µs, a scan {whole * 1e3:6.1f} ms{ratio}",
        rate,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=100_000)
    args = parser.parse_args()
    ids = [f"urn:ngsi-ld:Vehicle:bench-{n:06d}" for n in range(args.ids)]
    for pattern in PATTERNS:
        print(f"{pattern!r} over {len(ids):,} ids:")
        compiled = re.compile(pattern)
        line, ceiling = _line("re", _times(compiled.search, ids), None)
        print(line)
        print(_line("RE2", _times(_searcher(pattern), ids), ceiling)[0])
    hostile = [f"urn:ngsi-ld:R:{'a' * 30}{n}" for n in range(200)]
    pattern = "urn:ngsi-ld:R:(a+)+$"
    print(f"{pattern!r} over 200 ids of 30 letters (re: minutes per id, not run):")
    print(_line("RE2", _times(_searcher(pattern), hostile), None)[0])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
