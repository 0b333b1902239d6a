"""Crafted signals for detector unit tests: a steady driver, then whatever a test changes."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator

from dalgu.safety import signals as vss
from dalgu.safety.alert import Alert
from dalgu.safety.monitor import DetectorSet, VehicleMonitor, standard_detectors
from dalgu.safety.scenario import Sample

Signals = dict[str, float | bool | list[float] | None]
Vehicle = Callable[[float], dict[str, float | bool | list[float] | None] | None]
Wearable = Callable[[float], dict[str, float | bool | list[float] | None] | None]


def steady_vehicle(t: float) -> dict[str, float | bool | list[float] | None]:
    """90 km/h, small irregular corrections on the wheel, eyes on the road."""
    wobble = 1.2 * math.sin(t * 2.1) + 0.6 * math.sin(t * 5.3 + 1.0) + 0.3 * math.sin(t * 11.7)
    return {
        vss.SPEED: 90.0,
        vss.STEERING: round(wobble, 2),
        vss.LATERAL_ACCELERATION: 0.1,
        vss.LANE_WARNING: False,
        vss.EYES_ON_ROAD: True,
        vss.LATITUDE: 35.87,
        vss.LONGITUDE: 128.6,
    }


def collapsing_from(onset: float) -> Callable[[float], Signals]:
    """A steady driver who collapses at `onset`: the wheel still, the eyes off the road, the car
    slowing with nobody on the pedal and leaving its lane four seconds later."""

    def vehicle(t: float) -> Signals:
        signals = steady_vehicle(t)
        if t >= onset:
            signals.update(
                {
                    vss.STEERING: 0.4,
                    vss.EYES_ON_ROAD: False,
                    vss.SPEED: 90 - 2.2 * (t - onset),
                    vss.LANE_WARNING: t > onset + 4,
                }
            )
        return signals

    return vehicle


def steady_wearable(t: float, rate: float = 70.0) -> dict[str, float | bool | list[float] | None]:
    beat = 60000.0 / rate
    rr = [beat * (1 + 0.04 * math.sin(t / 4.0)) for _ in range(int(rate // 60) + (t % 2 < 1))]
    return {
        vss.IS_WORN: True,
        vss.SIGNAL_QUALITY: 0.9,
        vss.HEART_RATE: rate,
        vss.RR_INTERVALS: rr,
        vss.SPO2: 97.0,
    }


def samples(seconds: float, vehicle: Vehicle, wearable: Wearable) -> Iterator[Sample]:
    for step in range(int(seconds * 10)):
        t = step / 10.0
        signals = vehicle(t)
        if signals is not None:
            yield Sample(t, "vehicle", signals)
        if step % 10 == 5:
            worn = wearable(t)
            if worn is not None:
                yield Sample(t, "wearable", worn)


def run(
    seconds: float,
    vehicle: Vehicle,
    wearable: Wearable,
    detectors: DetectorSet = standard_detectors,
    monitor: VehicleMonitor | None = None,
) -> list[Alert]:
    if monitor is None:
        monitor = VehicleMonitor("vehicle-test", "driver-test", detectors=detectors)
    alerts: list[Alert] = []
    for sample in samples(seconds, vehicle, wearable):
        alerts.extend(monitor.feed(sample))
    return alerts + monitor.advance(seconds + 1)


Interval = Callable[[float], float | None]  # the beat interval (ms) at a time; None: no beat


def beat_times(interval: Interval, until: float) -> list[float]:
    """The beats of a heart whose interval at each time `interval` gives (None: stopped)."""
    beats, t = [], 0.3
    while t < until:
        ms = interval(t)
        if ms is None:
            t += 0.1
            continue
        beats.append(t)
        t += ms / 1000.0
    return beats


def falling(level: float, steps: list[float], onset: float) -> Interval:
    """A heart beating every `level` ms that, from `onset`, beats the `steps` intervals and
    then stays at the last one: a rate that falls within a few beats."""
    after: list[float] = []

    def interval(t: float) -> float:
        if t < onset:
            return level
        after.append(steps[min(len(after), len(steps) - 1)])
        return after[-1]

    return interval


def fallen_by(level: float, steps: list[float], onset: float, repeats: int) -> float:
    """When `falling(level, steps, onset)` has beaten its steps and then its last one
    `repeats` times more."""
    first = min(b for b in beat_times(lambda t: level, onset + 1) if b >= onset)
    return first + (sum(steps) + repeats * steps[-1]) / 1000.0


EVENT = 800.0  # an emergency's onset in the crafted drives: after the ten minutes of calibration


def band_off(t: float) -> Signals | None:
    """The band worn and steady until a minute before `EVENT`, then lost."""
    return steady_wearable(t) if t < EVENT - 60 else {vss.IS_WORN: False, vss.SIGNAL_QUALITY: 0.0}


def good(_: float) -> float:
    """A car sensor's quality, good all drive."""
    return 0.8


def band_beating(intervals: list[float], heart_rate: float) -> Callable[[float], Signals]:
    """A band worn well, sending the R-R intervals (ms) of a heart that beats `intervals` one
    after the other from the drive's start, and `heart_rate` as its rate."""
    beats = [b / 1000.0 for b in itertools.accumulate(intervals, initial=300.0)]

    def wearable(t: float) -> Signals:
        rr = [round((b - a) * 1000.0) for a, b in itertools.pairwise(beats) if t - 1.0 < b <= t]
        return {
            vss.IS_WORN: True,
            vss.SIGNAL_QUALITY: 0.9,
            vss.HEART_RATE: heart_rate,
            vss.RR_INTERVALS: [float(x) for x in rr],
            vss.SPO2: 97.0,
        }

    return wearable
