"""The sampling rates the detectors are built for, and a check of a drive's sources against them.

The medical detectors read a car from 2 Hz up (a second is whole with 80% of the car's own
rate, the wheel's activity is per second at that rate) and a band that reports at least every
2 s (the time since its last beat is what counts). The drowsiness detector's car features
(steering reversals and entropy over a minute) were fitted on 10 Hz and are read from 8 Hz
up; below, drowsiness is read without them. A band silent for more than 3 s is absent
(`detectors.quality.ABSENT_AFTER`), so one that reports less often is never read.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Iterable

from dalgu.safety.scenario import Sample

CAR_MIN_HZ = 2.0  # the medical detectors' lowest car rate (tested at 2, 5, 7 and 10 Hz)
CAR_DROWSY_HZ = 8.0  # the drowsiness detector's car features from this rate
BAND_MAX_PERIOD = 2.0  # s, the longest interval between a band's messages that is read


def source_rates(samples: Iterable[Sample]) -> tuple[float | None, float | None]:
    """(the car's samples per second, the band's usual interval between messages in s) of a
    drive: the median over the seconds the car sent in, and over the band's intervals."""
    car: Counter[int] = Counter()
    band: list[float] = []
    for sample in samples:
        if sample.source == "vehicle":
            car[int(sample.t // 1)] += 1
        else:
            band.append(sample.t)
    car_hz = float(statistics.median(car.values())) if car else None
    gaps = [b - a for a, b in itertools.pairwise(band) if b > a]
    return car_hz, (float(statistics.median(gaps)) if gaps else None)


def rate_notes(car_hz: float | None, band_period: float | None) -> list[str]:
    """What the detectors cannot read of sources at these rates (empty: all of it)."""
    notes = []
    if car_hz is not None and car_hz < CAR_MIN_HZ:
        notes.append(
            f"the car sends {car_hz:g} samples a second, under the {CAR_MIN_HZ:g} Hz the "
            "detectors read: a collapse at the wheel is not detected"
        )
    elif car_hz is not None and car_hz < CAR_DROWSY_HZ:
        notes.append(
            f"the car sends {car_hz:g} samples a second: drowsiness is read without the "
            f"car's features (they need {CAR_DROWSY_HZ:g} Hz)"
        )
    if band_period is not None and band_period > BAND_MAX_PERIOD:
        notes.append(
            f"the band reports every {band_period:.1f} s, less often than every "
            f"{BAND_MAX_PERIOD:g} s: it is read as absent, and nothing of it is detected"
        )
    return notes
