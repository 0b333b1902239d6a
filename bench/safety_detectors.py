"""The safety detectors' own CPU cost, in process: no broker, no gateway, no store.

    .venv/bin/python bench/safety_detectors.py                    # 10 tuning drives
    PYTHONPATH=/other/checkout/src .venv/bin/python bench/safety_detectors.py   # another version

Generated drives (tuning seeds) are fed through one `VehicleMonitor` each, sample by sample as the
live service does; the process CPU time (not wall time: the machine is shared) spent after each
drive's 10-minute baseline, divided by the driving seconds judged, is the detectors' cost per
vehicle-second. Its inverse is how many vehicles one core could judge if it did nothing else.
Also printed: p50/p99 of the time to judge one vehicle-second (its samples fed, wall clock),
the peak RSS of the process, and the ceiling: the same samples walked in the same loop by a
consumer that only keeps them (vehicle-seconds per CPU-second), with the detectors' rate as
a ratio to it.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dalgu.safety.generator import generate_scenario
from dalgu.safety.monitor import VehicleMonitor
from dalgu.safety.plan import CALIBRATION


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drives", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1000)
    args = parser.parse_args()
    cpu = judged = ceiling_cpu = 0.0
    per_second: list[float] = []  # wall seconds to judge each vehicle-second
    for seed in range(args.first_seed, args.first_seed + args.drives):
        scenario = generate_scenario(seed)
        monitor = VehicleMonitor(scenario.labels.vehicle)
        started: float | None = None
        second, second_began = -1, 0.0
        for sample in scenario.samples:
            if started is None and sample.t >= CALIBRATION:
                started = time.process_time()
            if started is not None and int(sample.t) != second:
                now = time.perf_counter()
                if second >= 0:
                    per_second.append(now - second_began)
                second, second_began = int(sample.t), now
            monitor.feed(sample)
        monitor.advance(scenario.labels.duration + 1.0)
        if started is not None:
            cpu += time.process_time() - started
            judged += scenario.labels.duration - CALIBRATION
        kept: list[object] = []  # the ceiling: the same walk, nothing judged
        began = time.process_time()
        for sample in scenario.samples:
            if sample.t >= CALIBRATION:
                kept.append(sample)
        ceiling_cpu += time.process_time() - began
    cost = cpu / judged
    ceiling = judged / ceiling_cpu if ceiling_cpu > 0 else float("inf")
    per_second.sort()
    p50 = per_second[len(per_second) // 2]
    p99 = per_second[min(len(per_second) - 1, int(0.99 * len(per_second)))]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"{args.drives} drives, {judged / 3600:.1f} h judged: "
        f"{cost * 1e3:.3f} ms of CPU per vehicle-second "
        f"(one core: ~{1 / cost:,.0f} vehicles); load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"one vehicle-second judged in p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms; "
        f"ceiling (samples walked, nothing judged) {ceiling:,.0f} vehicle-seconds per CPU-second, "
        f"ratio {1 / cost / ceiling:.4f}; peak RSS {peak_kib / 1024:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
