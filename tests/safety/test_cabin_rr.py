"""The car's R-R intervals (`CabinSensor.RRIntervals`): the band's rhythm rules run on them when
the band is lost or poor, behind the car's quality gate; and the generator's model of them."""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Callable

from dalgu.safety import signals as vss
from dalgu.safety.detectors.cabin import RR_FAST_IRREGULAR
from dalgu.safety.detectors.rhythm import irregularity, without_ectopics
from dalgu.safety.generator import generate_scenario
from dalgu.safety.scenario import Event
from dalgu.safety.service import config_groups
from tests.safety.crafted import (
    EVENT,
    Interval,
    Signals,
    band_off,
    beat_times,
    fallen_by,
    falling,
    good,
    run,
    steady_vehicle,
    steady_wearable,
)

END = EVENT + 40


def car(
    interval: Interval, quality: Callable[[float], float], rate: Callable[[float], float | None]
) -> Callable[[float], Signals]:
    """The steady car; once a second, the sensor's quality, rate and the intervals that ended
    since its last reading (sent only when there are some, as the sensor does)."""
    beats = beat_times(interval, END + 200)

    def vehicle(t: float) -> Signals:
        signals: Signals = dict(steady_vehicle(t))
        if round(t * 10) % 10 != 3:
            return signals
        signals[vss.DRIVER_HEART_RATE_QUALITY] = quality(t)
        reported = rate(t)
        if reported is not None:
            signals[vss.DRIVER_HEART_RATE] = reported
        rr = [round((b - a) * 1000.0) for a, b in itertools.pairwise(beats) if t - 1.0 < b <= t]
        if rr:
            signals[vss.CABIN_RR_INTERVALS] = [float(x) for x in rr]
        return signals

    return vehicle


def sinus(t: float) -> float:
    return 857.0  # 70 bpm


_AF = random.Random(5)
_AF_RR = [550.0 * min(max(_AF.gauss(1.0, 0.2), 0.6), 1.5) for _ in range(400)]


def af(t: float) -> float:
    """Atrial fibrillation at about 110 bpm from the onset, irregular beat to beat."""
    return _AF_RR[int(t * 1.9) % len(_AF_RR)] if t >= EVENT else 857.0


def test_band_lost_and_the_cars_intervals_irregular_is_an_arrhythmia() -> None:
    # the car's 5-s mean rate (120 bpm) is within limits: only the intervals show the rhythm
    alerts = run(END, car(af, good, lambda t: 120.0 if t >= EVENT else 70.0), band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "arrhythmia")]
    assert EVENT <= alerts[0].raised <= EVENT + 8
    assert alerts[0].evidence["source"] == "vehicle"


def test_band_lost_and_the_cars_intervals_slow_is_bradycardia() -> None:
    def slow(t: float) -> float:
        return 1800.0 if t >= EVENT else 857.0  # 33 bpm

    alerts = run(END, car(slow, good, lambda t: 50.0 if t >= EVENT else 70.0), band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "bradycardia")]
    # a rate that halves at once waits for a fourth slow interval: a missed peak looks the same
    assert alerts[0].raised <= EVENT + 10


def test_band_lost_and_the_cars_intervals_fast_is_tachycardia() -> None:
    def fast(t: float) -> float:
        return 350.0 if t >= EVENT else 857.0  # 171 bpm

    alerts = run(END, car(fast, good, lambda t: 120.0 if t >= EVENT else 70.0), band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "tachycardia")]
    assert alerts[0].raised <= EVENT + 3


def test_band_lost_and_the_cars_beats_stopping_under_good_contact_is_asystole() -> None:
    def stopped(t: float) -> float | None:
        return None if t >= EVENT else 857.0

    # the rate still shown (a sensor whose window has not emptied): the intervals tell first
    alerts = run(END, car(stopped, good, lambda t: 70.0), band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "asystole")]
    assert alerts[0].raised <= EVENT + 6


def test_irregular_intervals_when_the_cars_contact_is_lost_are_nothing() -> None:
    def contact(t: float) -> float:
        return 0.0 if t >= EVENT else 0.8

    assert run(END + 60, car(af, contact, lambda t: None if t >= EVENT else 70.0), band_off) == []


def test_garbage_intervals_at_a_low_quality_are_not_believed() -> None:
    noise = random.Random(11)
    garbage = [float(noise.randint(300, 1600)) for _ in range(400)]

    def spoiled(t: float) -> float:
        return garbage[int(t * 3) % len(garbage)] if t >= EVENT else 857.0

    def quality(t: float) -> float:
        return 0.2 if t >= EVENT else 0.8

    assert run(END + 60, car(spoiled, quality, lambda t: 72.0), band_off) == []


def test_missed_peaks_of_a_slow_heart_are_not_bradycardia() -> None:
    beats = iter(range(10**6))

    def missing(t: float) -> float:  # a 52-bpm heart, three peaks missed a beat apart now and then
        return 2308.0 if next(beats) % 20 in (5, 6, 7) else 1154.0

    assert run(END + 60, car(missing, good, lambda t: 52.0), band_off) == []


def test_missed_peaks_of_a_fast_heart_are_not_an_arrhythmia() -> None:
    beats = iter(range(10**6))

    def missing(t: float) -> float:  # a steady 105-bpm heart, every fourth peak missed
        return 1142.0 if next(beats) % 4 == 3 else 571.0

    assert run(END + 60, car(missing, good, lambda t: 105.0), band_off) == []


def test_the_cars_intervals_are_not_read_while_the_band_is_good() -> None:
    vehicle = car(af, good, lambda t: 120.0 if t >= EVENT else 70.0)
    assert run(END + 60, vehicle, steady_wearable) == []


def test_config_groups_map_the_cars_intervals_as_a_list() -> None:
    vehicles, _ = config_groups("v", "w", keep_cabin=True)["services"]
    mapped = {a["object_id"]: (a["name"], a["type"]) for a in vehicles["attributes"]}
    assert mapped[vss.CABIN_RR_INTERVALS] == ("driverRRIntervals", "ListProperty")


def cabin_stream(
    seed: int, events: list[Event]
) -> list[tuple[float, float, float | None, list[float]]]:
    scenario = generate_scenario(seed, duration=1200, events=events)
    return [
        (
            s.t,
            float(s.signals[vss.DRIVER_HEART_RATE_QUALITY]),  # type: ignore[arg-type]
            s.signals.get(vss.DRIVER_HEART_RATE),  # type: ignore[misc]
            list(s.signals.get(vss.CABIN_RR_INTERVALS) or []),  # type: ignore[arg-type]
        )
        for s in scenario.samples
        if s.source == "vehicle" and vss.DRIVER_HEART_RATE_QUALITY in s.signals
    ]


def test_the_generated_intervals_track_the_rate_and_come_only_with_contact() -> None:
    readings = cabin_stream(1003, [])
    assert readings == cabin_stream(1003, [])  # the seed gives the same intervals
    assert all(not rr for _, q, _, rr in readings if q == 0.0)  # no contact, no beats
    paired = [(r, rr) for _, q, r, rr in readings if q >= 0.5 and r is not None and rr]
    assert len(paired) > 0.5 * len(readings)
    # the intervals' rate agrees with the reported one (missed peaks make a few long ones)
    gaps = [abs(60000.0 / statistics.median(rr) - r) for r, rr in paired]
    assert statistics.median(gaps) < 6.0
    every = [x for _, q, _, rr in readings if q >= 0.5 for x in rr]
    typical = statistics.median(every)
    missed = sum(1 for x in every if x > 1.6 * typical) / len(every)
    assert 0.005 < missed < 0.08  # about 3 % of peaks missed


def test_the_generated_intervals_stop_at_an_asystole() -> None:
    onset = 900.0
    readings = cabin_stream(1002, [Event("cardiac", onset, onset + 60, {"subtype": "asystole"})])
    assert any(rr for t, _, _, rr in readings if onset - 30 < t < onset)
    assert all(not rr for t, _, _, rr in readings if onset + 1.5 < t < onset + 60)


def test_premature_beats_are_set_aside_from_the_irregularity() -> None:
    # a steady 105-bpm rhythm with two premature beats, each followed by its compensatory pause
    ectopic = [571.0, 400.0, 742.0, 571.0, 400.0, 742.0, 571.0, 571.0]
    assert irregularity(ectopic) > 0.3
    assert without_ectopics(ectopic) < 0.05
    fibrillation = _AF_RR[:8]
    assert min(irregularity(fibrillation), without_ectopics(fibrillation)) > RR_FAST_IRREGULAR


def test_a_fast_sinus_rhythm_with_premature_beats_is_not_an_arrhythmia() -> None:
    beats = iter(range(10**6))
    burst = (400.0, 742.0, 571.0, 400.0, 742.0)

    def ectopic(t: float) -> float:  # 105 bpm; every 20 beats two ectopics three beats apart
        n = next(beats) % 20
        return burst[n - 5] if t >= EVENT and 5 <= n < 10 else 571.0

    assert run(END + 60, car(ectopic, good, lambda t: 105.0), band_off) == []


# 90 bpm, then falling to 35 bpm within five beats
FALL = [900.0, 1150.0, 1400.0, 1600.0, 1700.0]


def test_band_lost_and_the_cars_rate_falling_fast_is_bradycardia_on_two_intervals() -> None:
    alerts = run(END, car(falling(667.0, FALL, EVENT), good, lambda t: None), band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "bradycardia")]
    assert alerts[0].evidence["heartRateBefore"] > 85
    # two steady slow intervals after the fall: before the third slow one is in
    assert alerts[0].raised < fallen_by(667.0, FALL, EVENT, 1)


def test_missed_peaks_in_a_row_are_not_a_sudden_fall() -> None:
    beats = iter(range(10**6))

    def missing(t: float) -> float:  # an 88-bpm heart, three peaks in a row missed now and then
        return 1364.0 if next(beats) % 25 in (5, 6, 7) else 682.0  # 44 bpm when doubled

    assert run(END + 60, car(missing, good, lambda t: 88.0), band_off) == []
