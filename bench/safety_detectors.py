"""The safety detectors' own CPU cost, in process: no broker, no gateway, no store.

    .venv/bin/python bench/safety_detectors.py                    # 10 tuning drives
    PYTHONPATH=/other/checkout/src .venv/bin/python bench/safety_detectors.py   # another version
    .venv/bin/python bench/safety_detectors.py --first-minutes --stored-baselines

Generated drives (tuning seeds) are fed through one `VehicleMonitor` each, sample by sample as the
live service does; the process CPU time (not wall time: the machine is shared) spent after each
drive's 10-minute baseline, divided by the driving seconds judged, is the detectors' cost per
vehicle-second. Its inverse is how many vehicles one core could judge if it did nothing else.
Also printed: p50/p99 of the time to judge one vehicle-second (its samples fed, wall clock),
the peak RSS of the process, and the ceiling: the same samples walked in the same loop by a
consumer that only keeps them (vehicle-seconds per CPU-second), with the detectors' rate as
a ratio to it.

`--first-minutes` judges the drives' first ten minutes instead (from the first minute), and
`--stored-baselines` reads each drive against its driver's baseline, learnt first from the awake
drives 1900-1939 (700 s each) as the live service keeps them: the drowsiness detector then works
in those minutes too, where without a baseline it only gathers its calibration.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dalgu.safety.campaign import learn_seed_baselines
from dalgu.safety.generator import generate_scenario
from dalgu.safety.monitor import VehicleMonitor
from dalgu.safety.plan import CALIBRATION


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drives", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--first-minutes", action="store_true")
    parser.add_argument("--stored-baselines", action="store_true")
    args = parser.parse_args()
    low, high = (60.0, CALIBRATION) if args.first_minutes else (CALIBRATION, float("inf"))
    baselines = learn_seed_baselines(range(1900, 1940), 700.0) if args.stored_baselines else {}
    cpu = judged = ceiling_cpu = 0.0
    per_second: list[float] = []  # wall seconds to judge each vehicle-second
    for seed in range(args.first_seed, args.first_seed + args.drives):
        scenario = generate_scenario(seed)
        labels = scenario.labels
        monitor = VehicleMonitor(labels.vehicle, baseline=baselines.get(labels.driver))
        started: float | None = None
        stopped: float | None = None
        second, second_began = -1, 0.0
        for sample in scenario.samples:
            if started is None and sample.t >= low:
                started = time.process_time()
            if stopped is None and sample.t >= high:
                stopped = time.process_time()
                break
            if started is not None and int(sample.t) != second:
                now = time.perf_counter()
                if second >= 0:
                    per_second.append(now - second_began)
                second, second_began = int(sample.t), now
            monitor.feed(sample)
        if stopped is None:
            monitor.advance(labels.duration + 1.0)
            stopped = time.process_time()
        if started is not None:
            cpu += stopped - started
            judged += min(labels.duration, high) - low
        kept: list[object] = []  # the ceiling: the same walk, nothing judged
        began = time.process_time()
        for sample in scenario.samples:
            if low <= sample.t < high:
                kept.append(sample)
        ceiling_cpu += time.process_time() - began
    cost = cpu / judged
    ceiling = judged / ceiling_cpu if ceiling_cpu > 0 else float("inf")
    per_second.sort()
    p50 = per_second[len(per_second) // 2]
    p99 = per_second[min(len(per_second) - 1, int(0.99 * len(per_second)))]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"{args.drives} drives, {judged / 3600:.1f} h judged, "
        + ("the first ten minutes" if args.first_minutes else "after the first ten minutes")
        + (" with stored baselines" if args.stored_baselines else "")
        + ": "
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
