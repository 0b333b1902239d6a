"""Round 19's rule under a lost band: a fast irregular rhythm on five of the wheel's intervals
is an arrhythmia when the seat felt one over the same seconds, and not otherwise."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from dalgu.safety.detectors import cabin
from dalgu.safety.detectors.rhythm import without_ectopics, without_one_premature
from tests.safety.crafted import EVENT, band_off, run
from tests.safety.test_cabin_quick import with_seat
from tests.safety.test_cabin_rr import END, car
from tests.safety.test_wheel_sooner import held

# the hand on the wheel long enough for five intervals, not the seven the wheel alone needs
CONTACT = held(EVENT + 10, 2.5)
# atrial fibrillation at about 120 bpm: no two successive intervals alike
_AF = (600.0, 410.0, 560.0, 380.0, 650.0, 470.0, 540.0, 400.0)


def fibrillating(t: float) -> float:
    return _AF[int(t * 2.0) % len(_AF)] if t >= EVENT else 857.0


def no_rate(t: float) -> None:
    return None


def test_five_fast_irregular_intervals_felt_by_the_seat_too_are_an_arrhythmia(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vehicle = with_seat(car(fibrillating, CONTACT, no_rate), fibrillating, 0.8)
    alerts = run(END, vehicle, band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "arrhythmia")]
    assert alerts[0].evidence["beats"] == 5
    assert alerts[0].evidence["witnessBeats"] >= 4
    assert alerts[0].raised <= EVENT + 13
    # without the rule, the same drive raises nothing so soon
    monkeypatch.setattr(cabin, "witnessed_fibrillation", lambda *args: None)
    later = run(END, with_seat(car(fibrillating, CONTACT, no_rate), fibrillating, 0.8), band_off)
    assert all(a.raised > EVENT + 13 for a in later)


def test_the_wheel_alone_on_five_intervals_is_not_believed() -> None:
    # the seat feels a steady 70 bpm: the wheel's irregular five are its own noise
    steady_seat = with_seat(car(fibrillating, CONTACT, no_rate), lambda t: 857.0, 0.8)
    assert run(END, steady_seat, band_off) == []
    # no seat at all
    assert run(END, car(fibrillating, CONTACT, no_rate), band_off) == []
    # a seat below its gate
    poor_seat = with_seat(car(fibrillating, CONTACT, no_rate), fibrillating, 0.3)
    assert run(END, poor_seat, band_off) == []


@pytest.mark.parametrize(
    ("early", "pause"),
    [(330.0, 780.0), (400.0, 800.0)],  # its pause compensating (2 x 522 in all), or not
)
def test_a_premature_beat_both_sensors_feel_is_not_an_arrhythmia(
    early: float, pause: float
) -> None:
    def premature() -> Callable[[float], float]:
        beats = itertools.count()

        def interval(t: float) -> float:  # 115 bpm, every fifth beat early, then its pause
            n = next(beats) % 5
            return early if n == 3 else pause if n == 4 else 522.0

        return interval

    # three seconds of contact: six intervals at 115 bpm, every window of five read
    vehicle = with_seat(car(premature(), held(EVENT + 10, 3.0), no_rate), premature(), 0.8)
    assert run(END, vehicle, band_off) == []


def test_one_premature_beat_set_aside_leaves_a_regular_rhythm_regular() -> None:
    # a non-compensating pause: `without_ectopics` keeps it, this does not
    sinus = [522.0, 522.0, 400.0, 800.0, 522.0]
    assert without_ectopics(sinus) > 0.3
    assert without_one_premature(sinus) == 0.0
    # fibrillation stays irregular whichever pair is set aside
    assert without_one_premature([593.0, 432.0, 610.0, 644.0, 515.0]) > 0.2
    assert without_one_premature([600.0, 600.0]) == 0.0
