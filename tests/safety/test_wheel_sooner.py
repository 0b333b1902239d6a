"""Round 17's wheel rules under a lost band: a slow heart read on one slow interval and the
silence after it (the interval under way is at least that long), and a fast irregular rhythm
read on seven intervals as well as eight."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest

from dalgu.safety import signals as vss
from dalgu.safety.detectors import cabin
from dalgu.safety.detectors.cardiac import CardiacDetector
from tests.safety.crafted import (
    EVENT,
    Interval,
    Signals,
    band_off,
    good,
    run,
    steady_wearable,
)
from tests.safety.test_cabin_quick import wheel_rate_falling, with_seat
from tests.safety.test_cabin_rr import END, car


def beating(intervals: list[float], then: float) -> Interval:
    """A heart at 70 bpm until `EVENT`, then beating `intervals` one after the other, then
    every `then` ms."""
    after: list[float] = []

    def interval(t: float) -> float:
        if t < EVENT:
            return 857.0
        after.append(intervals[len(after)] if len(after) < len(intervals) else then)
        return after[-1]

    return interval


# a heart that falls from 70 bpm to 25 bpm within three beats: 1500 ms (40 bpm), then 2000,
# then 2400 ms; the first pair is not steady with the 857 before it, so the sudden-fall rule on
# closed intervals waits for the third (2000 after 1500, 2400 after 2000)
FALL = [1500.0, 2000.0]
THEN = 2400.0


def test_a_slow_interval_and_the_silence_after_it_are_a_sudden_fall(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alerts = run(END, car(beating(FALL, THEN), good, wheel_rate_falling), band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "bradycardia")]
    assert alerts[0].evidence["secondsWithoutBeat"] == 2
    assert alerts[0].evidence["sensor"] == "wheel"
    # sooner than on closed intervals alone (round 16's rules: the 2400-ms interval's end)
    monkeypatch.setattr(cabin, "OPEN_SILENCE", 99)
    closed = run(END, car(beating(FALL, THEN), good, wheel_rate_falling), band_off)
    assert [a.subtype for a in closed] == ["bradycardia"]
    assert "secondsWithoutBeat" not in closed[0].evidence
    assert alerts[0].raised < closed[0].raised


def test_a_silence_while_the_seat_still_beats_at_the_old_pace_is_not_a_fall() -> None:
    # the wheel loses the peaks after two slow intervals (its own rate locked onto them), while
    # the seat, in good contact, feels a beat every 857 ms: missed peaks, not a heart that fell
    wheel = beating([1400.0, 1400.0, 2900.0], 857.0)

    def locked(t: float) -> float:
        return 40.0 if EVENT + 2 <= t < EVENT + 9 else 70.0

    vehicle = with_seat(car(wheel, good, locked), lambda t: 857.0, 0.8)
    assert run(END, vehicle, band_off) == []


def test_a_silence_while_the_wheels_own_rate_reads_the_level_is_not_a_fall() -> None:
    wheel = beating([1400.0, 1400.0, 2900.0], 857.0)
    assert run(END, car(wheel, good, lambda t: 70.0), band_off) == []


def band_off_at_the_onset(t: float) -> Signals | None:
    """The band worn and steady until `EVENT`, then lost."""
    return steady_wearable(t) if t < EVENT else {vss.IS_WORN: False, vss.SIGNAL_QUALITY: 0.0}


def test_a_fall_read_by_a_wheel_without_a_level_of_its_own_takes_the_bands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the hands take the wheel at the onset, so it has no rate of its own from 15-30 s before;
    # the band, lost at the onset, had one (70 bpm)
    def heart() -> Interval:
        return beating([1500.0, 1700.0], 1700.0)

    def from_the_onset(t: float) -> float:
        return 0.8 if t >= EVENT else 0.0

    alerts = run(END, car(heart(), from_the_onset, wheel_rate_falling), band_off_at_the_onset)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "bradycardia")]
    assert alerts[0].evidence["levelFrom"] == "band"
    # sooner than the three slow intervals a wheel without a level waits for
    monkeypatch.setattr(CardiacDetector, "_borrowed", lambda self, now: None)
    alone = run(END, car(heart(), from_the_onset, wheel_rate_falling), band_off_at_the_onset)
    assert [a.subtype for a in alone] == ["bradycardia"]
    assert alerts[0].raised < alone[0].raised


_AF = random.Random(7)
_AF_RR = [520.0 * min(max(_AF.gauss(1.0, 0.22), 0.6), 1.5) for _ in range(400)]


def fibrillating(t: float) -> float:
    """Atrial fibrillation at about 115 bpm from the onset, irregular beat to beat."""
    return _AF_RR[int(t * 2.0) % len(_AF_RR)] if t >= EVENT else 857.0


def held(start: float, seconds: float) -> Callable[[float], float]:
    """The wheel held in good contact from `start` for `seconds`, and not otherwise."""
    return lambda t: 0.8 if start <= t < start + seconds else 0.0


def test_a_fast_irregular_rhythm_in_three_seconds_of_contact_is_an_arrhythmia() -> None:
    # a hand on the wheel for three seconds gives seven intervals, one short of eight
    alerts = run(END, car(fibrillating, held(EVENT + 10, 3.0), lambda t: None), band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "arrhythmia")]
    assert alerts[0].evidence["beats"] == 7
    assert alerts[0].raised <= EVENT + 15


def test_a_fast_sinus_rhythm_with_a_premature_beat_in_seven_intervals_is_not() -> None:
    # four seconds of contact: eight intervals, a premature beat and its pause among the last
    # seven (without setting them aside, both readings are irregular: checked)
    beats = itertools.count()

    def premature(t: float) -> float:  # 115 bpm, every sixth beat a third early, then its pause
        n = next(beats) % 6
        return 348.0 if n == 4 else 696.0 if n == 5 else 522.0

    assert run(END, car(premature, held(EVENT + 10, 4.0), lambda t: None), band_off) == []
