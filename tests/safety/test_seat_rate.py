"""Round 15's seat tachycardia: under a lost band with the hands off the wheel, the seat's own
rate past the limit and its last two intervals, as sent, both past it and steady. Neither alone
is believed: the seat's false beats split intervals into short pieces, and its 8-s rate stays
high for seconds after a jolt."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from dalgu.safety import signals as vss
from dalgu.safety.detectors.seat import SEAT_RATE_GATE
from tests.safety.crafted import (
    EVENT,
    Interval,
    Signals,
    band_off,
    beat_times,
    run,
    steady_vehicle,
    steady_wearable,
)

END = EVENT + 40


def seat_car(
    intervals: Callable[[float], list[float]],
    rate: Callable[[float], float | None],
    quality: Callable[[float], float] = lambda t: 0.7,
) -> Callable[[float], Signals]:
    """The steady car, the wheel out of contact; once a second the seat's quality, its rate and
    the intervals `intervals` gives for that second (as the sensor sent them)."""

    def vehicle(t: float) -> Signals:
        signals: Signals = dict(steady_vehicle(t))
        if round(t * 10) % 10 != 3:
            return signals
        signals[vss.DRIVER_HEART_RATE_QUALITY] = 0.0
        signals[vss.SEAT_QUALITY] = quality(t)
        if (reported := rate(t)) is not None:
            signals[vss.SEAT_HEART_RATE] = reported
        if rr := intervals(t):
            signals[vss.SEAT_RR_INTERVALS] = rr
        return signals

    return vehicle


def of_heart(interval: Interval) -> Callable[[float], list[float]]:
    """The intervals of a heart beating at `interval` that ended in the last second."""
    beats = beat_times(interval, END + 200)

    def sent(t: float) -> list[float]:
        return [
            float(round((b - a) * 1000.0)) for a, b in itertools.pairwise(beats) if t - 1.0 < b <= t
        ]

    return sent


def racing(t: float) -> float:
    return 343.0 if t >= EVENT + 2 else 857.0  # 175 bpm


def seat_rate(t: float) -> float:
    """The seat's 8-s median rate: at the old pace until half its window is fast."""
    return 175.0 if t >= EVENT + 6 else 70.0


def kinds(alerts: list) -> list[tuple[str, str | None]]:  # type: ignore[type-arg]
    return [(a.type, a.subtype) for a in alerts]


def test_band_lost_hands_off_and_the_seats_rate_and_beats_racing_is_tachycardia() -> None:
    alerts = run(END, seat_car(of_heart(racing), seat_rate), band_off)
    assert kinds(alerts) == [("cardiac", "tachycardia")]
    assert alerts[0].evidence["sensor"] == "seat"
    assert alerts[0].evidence["sensorRate"] == 175.0
    assert alerts[0].raised <= EVENT + 8  # the first second the seat's rate is past the limit


def test_the_seats_fast_rate_without_fast_intervals_is_not_tachycardia() -> None:
    # false beats flooding the seat's 8-s window after a jolt: its rate reads 175 while the
    # intervals it now sends are the driver's 70 bpm
    assert run(END + 60, seat_car(of_heart(lambda t: 857.0), seat_rate), band_off) == []


def test_the_seats_fast_intervals_without_a_fast_rate_are_not_tachycardia() -> None:
    # two short steady pieces now and then (a false beat splitting each interval) while its rate
    # of the last 8 s stays at the driver's
    assert run(END + 60, seat_car(of_heart(racing), lambda t: 70.0), band_off) == []


def test_two_fast_pieces_are_read_next_to_the_intervals_sent_around_them() -> None:
    # each second: a missed beat (an interval of twice the level's), then three short pieces of
    # false beats, one under 250 ms, then a normal interval; the rate reads 160. Leaving out the
    # long interval and the piece no heart beats would pair 299 and 339 ms
    def pieces(t: float) -> list[float]:
        return [1714.0, 366.0, 299.0, 339.0, 230.0, 842.0] if t >= EVENT else [857.0]

    assert run(END + 60, seat_car(pieces, lambda t: 160.0), band_off) == []
    # the same pieces, ending on two of them, are read
    racing_pieces = seat_car(
        lambda t: [1714.0, 366.0, 299.0, 339.0] if t >= EVENT else [857.0], lambda t: 160.0
    )
    assert kinds(run(END, racing_pieces, band_off)) == [("cardiac", "tachycardia")]


def test_the_seats_rate_under_its_gate_or_with_the_band_good_is_not_read() -> None:
    poor = seat_car(of_heart(racing), seat_rate, lambda t: SEAT_RATE_GATE - 0.05)
    assert run(END + 60, poor, band_off) == []
    assert run(END + 60, seat_car(of_heart(racing), seat_rate), steady_wearable) == []
