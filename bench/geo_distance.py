"""`near` to a line or polygon, in process: `dalgu.query.geo.distance_m`, the metres from a
query geometry to an entity's that is not a point. The SQLite store calls it for each such
candidate the R*Tree gives (points take the haversine in SQL), and so do subscriptions' and
discovery's `near`.

    .venv/bin/python bench/geo_distance.py [--calls 20000] [--runs 5]

Printed per shape (a city block's polygon, a road's line, a polygon across the antimeridian):
calls per second, p50/p99 of a batch of 1,000 calls per call, and the ceiling, the haversine
between two points (what a point candidate costs), as a ratio; then the peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

from shapely.geometry import shape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dalgu.query.geo import distance_m, haversine

QUERY = shape({"type": "Point", "coordinates": [128.62, 35.88]})
SHAPES = {
    "block polygon": {
        "type": "Polygon",
        "coordinates": [
            [[128.60, 35.86], [128.61, 35.86], [128.61, 35.87], [128.60, 35.87], [128.60, 35.86]]
        ],
    },
    "road line (4 points)": {
        "type": "LineString",
        "coordinates": [[128.55, 35.80], [128.57, 35.83], [128.58, 35.85], [128.59, 35.86]],
    },
    "polygon across 180°": {
        "type": "Polygon",
        "coordinates": [[[179.0, 0.0], [179.99, 0.0], [179.99, 1.0], [179.0, 1.0], [179.0, 0.0]]],
    },
}
BATCH = 1000


def per_call(run: object, calls: int, runs: int) -> tuple[float, float, float]:
    """(calls/s of the best run, p50 and p99 µs per call over batches of `BATCH`)."""
    assert callable(run)
    batches: list[float] = []
    best = 0.0
    for _ in range(runs):
        began = time.perf_counter()
        for _ in range(calls // BATCH):
            t = time.perf_counter()
            for _ in range(BATCH):
                run()
            batches.append((time.perf_counter() - t) / BATCH * 1e6)
        best = max(best, calls / (time.perf_counter() - began))
    cuts = statistics.quantiles(batches, n=100)
    return best, cuts[49], cuts[98]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ceiling, _, _ = per_call(lambda: haversine(128.6, 35.86, 128.62, 35.88), args.calls, args.runs)
    print(f"ceiling (haversine between two points): {ceiling:,.0f} calls/s")
    for name, geometry in SHAPES.items():
        entity = shape(geometry)
        rate, p50, p99 = per_call(lambda e=entity: distance_m(e, QUERY), args.calls, args.runs)
        print(
            f"{name:22} {rate:>10,.0f} calls/s  p50 {p50:6.1f} µs  p99 {p99:6.1f} µs  "
            f"ratio {rate / ceiling:.3f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
