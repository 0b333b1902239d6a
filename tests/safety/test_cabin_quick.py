"""Round 14's car rules under a lost band: a very fast heart read on two steady wheel intervals,
and a sudden fall to about half the rate believed when the wheel's own rate fell too and the
seat shows no beat at the old pace."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from dalgu.safety import signals as vss
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
)
from tests.safety.test_cabin_rr import END, car


def brief(t: float) -> float:
    """The wheel held in good contact for one second in ten (a hand on and off it)."""
    return 0.8 if int(t) % 10 == 3 else 0.0


def test_band_lost_and_two_steady_wheel_intervals_past_the_limit_are_tachycardia() -> None:
    def fast(t: float) -> float:
        return 353.0 if t >= EVENT else 857.0  # 170 bpm: at most three intervals a second

    # one good second at a time holds two or three intervals, fewer than the median of four
    alerts = run(END, car(fast, brief, lambda t: None), band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "tachycardia")]
    assert alerts[0].evidence["sensor"] == "wheel"
    assert alerts[0].raised <= EVENT + 11  # the first good second after the onset


def test_one_premature_beat_in_a_brief_contact_is_not_tachycardia() -> None:
    beats = iter(range(10**6))

    def premature(t: float) -> float:  # 125 bpm, every fifth beat a third early (186 bpm)
        return 322.0 if next(beats) % 5 == 4 else 480.0

    assert run(END + 60, car(premature, brief, lambda t: None), band_off) == []


def with_seat(
    vehicle: Callable[[float], Signals], interval: Interval, quality: float
) -> Callable[[float], Signals]:
    """The car of `vehicle`, its seat sensor also sending the intervals of `interval`."""
    beats = beat_times(interval, END + 200)

    def both(t: float) -> Signals:
        signals = vehicle(t)
        if round(t * 10) % 10 != 3:
            return signals
        signals[vss.SEAT_QUALITY] = quality
        rr = [round((b - a) * 1000.0) for a, b in itertools.pairwise(beats) if t - 1.0 < b <= t]
        if rr:
            signals[vss.SEAT_RR_INTERVALS] = [float(x) for x in rr]
        return signals

    return both


# 70 bpm, then halving within three beats: two intervals of 1714 ms are twice the level's,
# what two missed peaks in a row would make too
HALVED = [1000.0, 1300.0, 1714.0]


def wheel_rate_falling(t: float) -> float:
    """The wheel's own 5-s mean rate following the heart down."""
    return 70.0 if t < EVENT else max(35.0, 70.0 - 6.0 * (t - EVENT))


def test_a_fall_to_half_the_rate_read_by_the_wheel_and_its_own_rate_is_bradycardia() -> None:
    heart = falling(857.0, HALVED, EVENT)
    alerts = run(END, car(heart, good, wheel_rate_falling), band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "bradycardia")]
    assert alerts[0].evidence["beats"] == 2
    # before the third slow interval is in (what a fall not seen by the wheel's rate waits for)
    assert alerts[0].raised < fallen_by(857.0, HALVED, EVENT, 2)


def test_doubled_intervals_while_the_seat_beats_at_the_old_pace_are_not_a_fall() -> None:
    # the wheel misses three peaks a beat apart (three intervals of twice the level's, steady
    # among themselves) and its own rate locks onto them; the seat, in good contact, still
    # feels a beat every 857 ms
    missing = falling(857.0, [1714.0, 1714.0, 1714.0, 857.0], EVENT)

    def locked(t: float) -> float:
        return 35.0 if EVENT + 3 <= t < EVENT + 7 else 70.0

    vehicle = with_seat(car(missing, good, locked), lambda t: 857.0, 0.8)
    assert run(END, vehicle, band_off) == []
