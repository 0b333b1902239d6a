"""The safety detectors' own CPU cost, in process: no broker, no gateway, no store.

    .venv/bin/python bench/safety_detectors.py                    # 10 tuning drives
    PYTHONPATH=/other/checkout/src .venv/bin/python bench/safety_detectors.py   # another version

Generated drives (tuning seeds) are fed through one `VehicleMonitor` each, sample by sample as the
live service does; the process CPU time (not wall time: the machine is shared) spent after each
drive's 10-minute baseline, divided by the driving seconds judged, is the detectors' cost per
vehicle-second. Its inverse is how many vehicles one core could judge if it did nothing else.
"""

from __future__ import annotations

import argparse
import os
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
    cpu = judged = 0.0
    for seed in range(args.first_seed, args.first_seed + args.drives):
        scenario = generate_scenario(seed)
        monitor = VehicleMonitor(scenario.labels.vehicle)
        started: float | None = None
        for sample in scenario.samples:
            if started is None and sample.t >= CALIBRATION:
                started = time.process_time()
            monitor.feed(sample)
        monitor.advance(scenario.labels.duration + 1.0)
        if started is not None:
            cpu += time.process_time() - started
            judged += scenario.labels.duration - CALIBRATION
    per_second = cpu / judged
    print(
        f"{args.drives} drives, {judged / 3600:.1f} h judged: "
        f"{per_second * 1e3:.3f} ms of CPU per vehicle-second "
        f"(one core: ~{1 / per_second:,.0f} vehicles); load average {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
