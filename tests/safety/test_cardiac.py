"""The cardiac detector on crafted beats: a rate judged on a few seconds of good beats is raised
at once; the quality gate, not a long confirmation, keeps artefacts out."""

from __future__ import annotations

import math

import numpy as np

from dalgu.safety import signals as vss
from dalgu.safety.detectors.rhythm import irregularity, median3
from tests.safety.crafted import run, steady_vehicle, steady_wearable

EVENT = 800.0  # after the ten minutes of calibration


def beats_at(rate: float, quality: float = 0.9) -> dict[str, object]:
    """One second of a regular rhythm at `rate` bpm (the beats that fell in it)."""
    signals: dict[str, object] = dict(steady_wearable(0.0, 70.0))
    signals.update(
        {
            vss.SIGNAL_QUALITY: quality,
            vss.HEART_RATE: rate,
            vss.RR_INTERVALS: [60000.0 / rate] * max(1, round(rate / 60.0)),
        }
    )
    return signals


def test_a_sustained_run_at_170_bpm_is_tachycardia_once_three_fast_beats_are_in() -> None:
    def wearable(t: float) -> dict[str, object]:
        return beats_at(170.0) if t >= EVENT else steady_wearable(t)

    alerts = run(EVENT + 30, steady_vehicle, wearable)  # type: ignore[arg-type]
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "tachycardia")]
    assert alerts[0].raised - EVENT <= 1  # the first second of the run holds three beats
    assert alerts[0].evidence["heartRate"] > 160


def test_a_burst_of_fast_beats_read_with_poor_quality_is_not_tachycardia() -> None:
    def wearable(t: float) -> dict[str, object]:
        # a jolt: five seconds of spurious fast beats, the band's quality index low
        return beats_at(180.0, quality=0.3) if EVENT <= t < EVENT + 5 else steady_wearable(t)

    assert run(EVENT + 30, steady_vehicle, wearable) == []  # type: ignore[arg-type]


def test_two_premature_beats_at_a_normal_rate_are_not_tachycardia() -> None:
    def wearable(t: float) -> dict[str, object]:
        signals = steady_wearable(t)
        if EVENT <= t < EVENT + 1:  # two early beats (350 ms), then the rhythm goes on
            signals[vss.RR_INTERVALS] = [350.0, 350.0, 1014.0]
        return signals

    assert run(EVENT + 30, steady_vehicle, wearable) == []  # type: ignore[arg-type]


def test_a_sudden_fall_to_43_bpm_is_bradycardia_after_two_slow_beats() -> None:
    def wearable(t: float) -> dict[str, object] | None:
        if t < EVENT:
            return steady_wearable(t)
        # 43 bpm (1395 ms): a beat in most seconds, the band in good contact
        beat = [1395.0] if (t - EVENT) % 1.4 < 1.0 else []
        return {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.9, vss.RR_INTERVALS: beat}

    alerts = run(EVENT + 30, steady_vehicle, wearable)  # type: ignore[arg-type]
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "bradycardia")]
    assert alerts[0].raised - EVENT <= 4


def test_a_slow_drift_to_43_bpm_over_minutes_is_not_bradycardia() -> None:
    def wearable(t: float) -> dict[str, object]:
        # a drowsy driver's heart slowing from 70 to 43 bpm over four minutes
        rate = 70.0 - 27.0 * min(1.0, max(0.0, (t - EVENT + 240.0) / 240.0))
        signals = steady_wearable(t, rate)
        beat = 60000.0 / rate
        signals[vss.RR_INTERVALS] = [beat] if (t * rate / 60.0) % 1.0 < rate / 60.0 else []
        return signals

    assert run(EVENT + 60, steady_vehicle, wearable) == []  # type: ignore[arg-type]


def test_irregularity_tells_fibrillation_from_sinus_rhythm() -> None:
    rng = np.random.default_rng(5)
    sinus = [857.0 * (1 + 0.04 * math.sin(k / 1.5)) + rng.normal(0, 8) for k in range(16)]
    fibrillating = [float(x) for x in 500.0 * np.clip(rng.normal(1, 0.2, 16), 0.45, 1.8)]
    assert irregularity(sinus) < 0.06
    assert irregularity(fibrillating) > 0.15


def test_median3_is_the_middle_value() -> None:
    assert [median3(*v) for v in ((1, 2, 3), (3, 1, 2), (2, 3, 1), (5, 5, 1))] == [2, 2, 2, 5]


def fibrillating(rate: float, seed: int = 11) -> object:
    """Seconds of an irregular rhythm at a mean `rate` bpm (independent intervals, ±20 %)."""
    rng = np.random.default_rng(seed)

    def second(t: float) -> dict[str, object]:
        signals = beats_at(rate)
        beats = max(1, round(rate / 60.0))
        signals[vss.RR_INTERVALS] = [
            float(x) for x in 60000.0 / rate * np.clip(rng.normal(1, 0.2, beats), 0.45, 1.8)
        ]
        return signals

    return second


def test_a_fast_irregular_rhythm_is_an_arrhythmia_once_eight_beats_are_in() -> None:
    fast = fibrillating(125.0)

    def wearable(t: float) -> dict[str, object]:
        return fast(t) if t >= EVENT else steady_wearable(t)  # type: ignore[operator,no-any-return]

    alerts = run(EVENT + 30, steady_vehicle, wearable)  # type: ignore[arg-type]
    assert [(a.type, a.subtype, a.severity) for a in alerts] == [("cardiac", "arrhythmia", "high")]
    # eight intervals at ~125 bpm are in after four seconds; the slow rule took 12-16 beats,
    # twice (about 8 s at this rate)
    assert alerts[0].raised - EVENT <= 5
    assert alerts[0].evidence["heartRate"] > 100


def test_sinus_arrhythmia_of_slow_deep_breathing_is_not_an_arrhythmia() -> None:
    def wearable(t: float) -> dict[str, object]:
        # a drowsy driver at 58 bpm breathing at 8/min: the intervals swing by ±22 % smoothly,
        # as irregular over eight beats (median change 0.15) as a fibrillation, but slow
        rate = 58.0 * (1 + 0.22 * math.sin(2 * math.pi * t * 8 / 60))
        signals = steady_wearable(t, rate)
        signals[vss.RR_INTERVALS] = [60000.0 / rate]
        return signals

    alerts = run(EVENT + 60, steady_vehicle, wearable)  # type: ignore[arg-type]
    assert [(a.type, a.subtype) for a in alerts] == []


def test_an_irregular_rhythm_read_after_the_band_comes_back_is_found_within_seconds() -> None:
    fast = fibrillating(120.0, seed=4)

    def wearable(t: float) -> dict[str, object] | None:
        if t < EVENT - 10:
            return steady_wearable(t)
        if t < EVENT + 20:  # the band slipped off before the onset and is back 20 s after it
            return {vss.IS_WORN: False, vss.SIGNAL_QUALITY: 0.0}
        return fast(t)  # type: ignore[operator,no-any-return]

    alerts = run(EVENT + 60, steady_vehicle, wearable)  # type: ignore[arg-type]
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "arrhythmia")]
    assert alerts[0].raised - (EVENT + 20) <= 6
