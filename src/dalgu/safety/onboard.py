"""The car's own heart sensors (the wheel's ECG, `cabin.py`; the seat's, `seat.py`) and its
camera's SpO2 estimate (`camera.py`) on the telematics samples the generator makes, and the
car signals their models read."""

from __future__ import annotations

import numpy as np

from dalgu.safety import signals as vss
from dalgu.safety.physiology import Array
from dalgu.safety.scenario import Sample

# (time s, signal quality, rate bpm or None, R-R intervals in ms): one report of a heart sensor
Reading = tuple[float, float, float | None, list[float]]


def with_readings(
    vehicle: list[Sample], readings: list[Reading], quality: str, rate: str, intervals: str
) -> list[Sample]:
    """The vehicle samples with each reading added, under the sensor's signal names, to the
    sample sent at its time (a reading that falls in a telematics gap is lost with it); the
    intervals only when there are some."""
    at = {round(t * 10): (q, r, rr) for t, q, r, rr in readings}
    for sample in vehicle:
        reading = at.get(round(sample.t * 10))
        if reading is None:
            continue
        sample_quality, sample_rate, rr = reading
        sample.signals[quality] = sample_quality
        if sample_rate is not None:
            sample.signals[rate] = sample_rate
        if rr:
            sample.signals[intervals] = rr
    return vehicle


def with_estimates(
    vehicle: list[Sample],
    estimates: list[tuple[float, float, float | None]],
    quality: str,
    value: str,
) -> list[Sample]:
    """The vehicle samples with each estimate (time, quality, value or None) added, under the
    sensor's signal names, to the sample sent at its time (one in a telematics gap is lost)."""
    at = {round(t * 10): (q, v) for t, q, v in estimates}
    for sample in vehicle:
        estimate = at.get(round(sample.t * 10))
        if estimate is None:
            continue
        sample.signals[quality] = estimate[0]
        if estimate[1] is not None:
            sample.signals[value] = estimate[1]
    return vehicle


def gaze_series(vehicle: list[Sample]) -> tuple[Array, Array]:
    """The camera's gaze as the car sent it: (times, 1 eyes on the road / 0 off)."""
    pairs = [
        (s.t, 1.0 if v else 0.0)
        for s in vehicle
        if isinstance(v := s.signals.get(vss.EYES_ON_ROAD), bool)
    ]
    if not pairs:
        return np.zeros(0), np.zeros(0)
    times, values = zip(*pairs, strict=True)
    return np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)


def signal_series(vehicle: list[Sample], name: str) -> tuple[Array, Array]:
    """A numeric signal as the car sent it: (times, values)."""
    pairs = [
        (s.t, float(v))
        for s in vehicle
        if isinstance(v := s.signals.get(name), int | float) and not isinstance(v, bool)
    ]
    if not pairs:
        return np.zeros(0), np.zeros(0)
    times, values = zip(*pairs, strict=True)
    return np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)
