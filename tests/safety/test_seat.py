"""The seat's heart sensor (`CabinSensor.Seat.*`, ballistocardiography): read when the band is
lost or poor and the wheel has no good contact, behind its own quality gate; and the
generator's model of it."""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Callable

import numpy as np

from dalgu.safety import signals as vss
from dalgu.safety.detectors.seat import SEAT_BEATS, SEAT_SILENCE
from dalgu.safety.generator import generate_scenario
from dalgu.safety.history import History
from dalgu.safety.physiology import Body
from dalgu.safety.plan import DrivePlan
from dalgu.safety.scenario import Event, Sample
from dalgu.safety.seat import seat_readings
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
    seat: Interval,
    seat_quality: Callable[[float], float],
    wheel_quality: Callable[[float], float] = lambda t: 0.0,
    wheel: Interval = lambda t: 857.0,
) -> Callable[[float], Signals]:
    """The steady car; once a second, the wheel's and the seat's quality and the intervals that
    ended since their last reading (a sensor sends intervals only in good contact here)."""
    seat_beats, wheel_beats = beat_times(seat, END + 200), beat_times(wheel, END + 200)

    def ended(beats: list[float], t: float, contact: Callable[[float], float]) -> list[float]:
        return [
            float(round((b - a) * 1000))
            for a, b in itertools.pairwise(beats)
            if t - 1 < b <= t and all(contact(a + k * (b - a) / 5) > 0 for k in range(6))
        ]

    def vehicle(t: float) -> Signals:
        signals: Signals = dict(steady_vehicle(t))
        if round(t * 10) % 10 != 3:
            return signals
        signals[vss.DRIVER_HEART_RATE_QUALITY] = wheel_quality(t)
        if rr := ended(wheel_beats, t, wheel_quality):
            signals[vss.CABIN_RR_INTERVALS] = rr
        signals[vss.SEAT_QUALITY] = seat_quality(t)
        if rr := ended(seat_beats, t, seat_quality):
            signals[vss.SEAT_RR_INTERVALS] = rr
        return signals

    return vehicle


def slow(t: float) -> float:
    return 1800.0 if t >= EVENT else 857.0  # 33 bpm from the onset


def kinds(alerts: list) -> list[tuple[str, str | None]]:  # type: ignore[type-arg]
    return [(a.type, a.subtype) for a in alerts]


def test_band_lost_hands_off_and_the_seats_beats_slow_is_bradycardia() -> None:
    alerts = run(END, car(slow, good), band_off)
    assert kinds(alerts) == [("cardiac", "bradycardia")]
    assert alerts[0].raised <= EVENT + 10
    assert alerts[0].evidence["sensor"] == "seat" and alerts[0].evidence["source"] == "vehicle"


def test_band_lost_hands_off_and_the_seats_beats_stopping_is_asystole() -> None:
    def stopped(t: float) -> float | None:
        return None if t >= EVENT else 857.0

    alerts = run(END, car(stopped, good), band_off)
    assert kinds(alerts) == [("cardiac", "asystole")]
    assert alerts[0].raised <= EVENT + SEAT_SILENCE.flat + 2


def fast(t: float) -> float:
    return 350.0 if t >= EVENT else 857.0  # 171 bpm


_AF = random.Random(7)
_AF_RR = [500.0 * min(max(_AF.gauss(1.0, 0.3), 0.5), 1.7) for _ in range(400)]


def af(t: float) -> float:  # about 120 bpm, very irregular, from the onset
    return _AF_RR[int(t * 2.1) % len(_AF_RR)] if t >= EVENT else 857.0


def test_the_seats_fast_or_irregular_beats_are_not_read() -> None:
    # its false beats split intervals: on the tuning drives they looked fast and irregular
    assert run(END + 60, car(fast, good), band_off) == []
    assert run(END + 60, car(af, good), band_off) == []


def test_the_seats_slow_beats_between_its_two_gates_are_not_bradycardia() -> None:
    def middling(_: float) -> float:
        return (SEAT_SILENCE.gate + SEAT_BEATS.gate) / 2  # believed for a silence, not a rate

    assert run(END + 60, car(slow, middling), band_off) == []


def test_the_seats_beats_below_its_quality_gate_are_not_believed() -> None:
    def shaken(_: float) -> float:
        return SEAT_SILENCE.gate - 0.1  # a rough road: the seat's own quality index says so

    assert run(END + 60, car(slow, shaken), band_off) == []


def test_the_seat_is_not_read_while_the_wheel_has_good_contact() -> None:
    # the wheel in contact with a normal heart outranks the seat's slow beats
    assert run(END + 60, car(slow, good, wheel_quality=good), band_off) == []


def test_the_seat_is_not_read_while_the_band_is_good() -> None:
    assert run(END + 60, car(slow, good), steady_wearable) == []


def test_the_seats_missed_beats_of_a_slow_heart_are_not_bradycardia() -> None:
    beats = iter(range(10**6))

    def missing(_: float) -> float:  # a 52-bpm heart, three beats missed a beat apart now and then
        return 2308.0 if next(beats) % 20 in (5, 6, 7) else 1154.0

    assert run(END + 60, car(missing, good), band_off) == []


def test_hands_returning_to_a_heart_already_stopped_is_asystole() -> None:
    def stopped(t: float) -> float | None:
        return None if t >= EVENT - 20 else 857.0

    def hands(t: float) -> float:  # off from before the heart stopped, back at the onset
        return 0.0 if EVENT - 30 <= t < EVENT else 0.8

    def shaken(_: float) -> float:
        return 0.2

    alerts = run(END, car(lambda t: 857.0, shaken, wheel_quality=hands, wheel=stopped), band_off)
    assert kinds(alerts) == [("cardiac", "asystole")]
    assert EVENT <= alerts[0].raised <= EVENT + 7
    assert alerts[0].evidence["sensor"] == "wheel"


def test_hands_returning_to_a_beating_heart_are_nothing() -> None:
    def hands(t: float) -> float:  # off and on every 20 s: each return starts a fresh run
        return 0.0 if int(t) % 20 < 5 and t >= EVENT - 60 else 0.8

    def shaken(_: float) -> float:
        return 0.2

    slow_sinus = car(lambda t: 857.0, shaken, wheel_quality=hands, wheel=lambda t: 1400.0)
    assert run(END + 60, slow_sinus, band_off) == []


def test_a_seat_reading_without_its_quality_is_not_read() -> None:
    history = History()
    history.add(Sample(0.3, "vehicle", {vss.SPEED: 50.0, vss.SEAT_RR_INTERVALS: [900.0]}))
    history.add(
        Sample(0.4, "vehicle", {vss.SEAT_QUALITY: 0.7, vss.SEAT_HEART_RATE: 66.0})  # no intervals
    )
    second = history.close()
    assert (second.seat_quality, second.seat_heart_rate, second.seat_rr) == (0.7, 66.0, [])


def test_config_groups_map_the_seat_apart_from_the_wheel() -> None:
    vehicles, _ = config_groups("v", "w", keep_cabin=True)["services"]
    mapped = {a["object_id"]: (a["name"], a["type"]) for a in vehicles["attributes"]}
    assert mapped[vss.SEAT_HEART_RATE] == ("seatHeartRate", "Number")
    assert mapped[vss.SEAT_QUALITY] == ("seatHeartRateQuality", "Number")
    assert mapped[vss.SEAT_RR_INTERVALS] == ("seatRRIntervals", "ListProperty")
    assert mapped[vss.CABIN_RR_INTERVALS] == ("driverRRIntervals", "ListProperty")


# the generator's model


def vehicle_stream(seed: int, events: list[Event]) -> list[tuple[float, dict[str, object]]]:
    scenario = generate_scenario(seed, duration=1200, events=events)
    return [(s.t, dict(s.signals)) for s in scenario.samples if s.source == "vehicle"]


def by_second(
    readings: list[tuple[float, dict[str, object]]], quality: str, value: str, gate: float
) -> dict[int, object]:
    """What a sensor sent (`value`) each second its quality was at `gate` or above (each
    sensor reports once a second, at its own phase)."""
    return {
        int(t): s.get(value)
        for t, s in readings
        if quality in s and float(s[quality]) >= gate  # type: ignore[arg-type]
    }


def test_the_same_seed_gives_the_same_seat_readings() -> None:
    seat = [
        (t, s[vss.SEAT_QUALITY], s.get(vss.SEAT_HEART_RATE), s.get(vss.SEAT_RR_INTERVALS))
        for t, s in vehicle_stream(1004, [])
        if vss.SEAT_QUALITY in s
    ]
    assert len(seat) > 1000
    assert seat == [
        (t, s[vss.SEAT_QUALITY], s.get(vss.SEAT_HEART_RATE), s.get(vss.SEAT_RR_INTERVALS))
        for t, s in vehicle_stream(1004, [])
        if vss.SEAT_QUALITY in s
    ]


def test_the_generated_seat_tracks_the_wheels_rate() -> None:
    readings = vehicle_stream(1003, [])
    seat = by_second(readings, vss.SEAT_QUALITY, vss.SEAT_HEART_RATE, SEAT_SILENCE.gate)
    wheel = by_second(readings, vss.DRIVER_HEART_RATE_QUALITY, vss.DRIVER_HEART_RATE, 0.5)
    both = [k for k in seat.keys() & wheel.keys() if seat[k] and wheel[k]]
    assert len(both) > 200
    gaps = [abs(float(seat[k]) - float(wheel[k])) for k in both]  # type: ignore[arg-type]
    assert statistics.median(gaps) < 6.0


def crafted_body(rate: float, duration: float, syncope: float | None = None) -> Body:
    t = np.arange(0.0, duration + 2.0, 0.25)
    beats = np.arange(0.5, duration, 60.0 / rate)
    return Body(t, np.full(len(t), rate), np.full(len(t), 97.0), beats, syncope)


def at_speed(kmh: float, duration: float) -> tuple[np.ndarray, np.ndarray]:
    times = np.arange(0.0, duration, 0.1)
    return times, np.full(len(times), kmh)


def test_road_vibration_spoils_the_seats_quality() -> None:
    duration = 600.0
    body = crafted_body(64.0, duration)

    def good_share(kmh: float) -> float:
        readings = seat_readings(
            DrivePlan(duration), body, at_speed(kmh, duration), np.random.default_rng(3)
        )
        return sum(q >= SEAT_SILENCE.gate for _, q, _, _ in readings) / len(readings)

    assert good_share(30.0) > 0.8
    assert good_share(130.0) < 0.5 * good_share(30.0)


def test_a_speed_bump_spoils_the_seat_for_a_moment() -> None:
    duration = 600.0
    plan = DrivePlan(duration, confounders=[Event("speed-bump", 300.0, 301.0)])
    readings = seat_readings(
        plan, crafted_body(64.0, duration), at_speed(30.0, duration), np.random.default_rng(4)
    )
    around = [q for t, q, _, _ in readings if abs(t - 300.0) < 1.0]
    assert around and max(around) < SEAT_SILENCE.gate


def test_the_generated_seat_keeps_the_heart_through_a_faint() -> None:
    onset = 900.0
    readings = vehicle_stream(1006, [Event("incapacitation", onset, onset + 60)])
    after = [(t, s) for t, s in readings if onset + 6 < t < onset + 50]
    wheel = by_second(after, vss.DRIVER_HEART_RATE_QUALITY, vss.DRIVER_HEART_RATE_QUALITY, 0.0)
    assert len(wheel) > 30 and set(wheel.values()) == {0.0}  # the hands fell from the wheel
    seat = by_second(after, vss.SEAT_QUALITY, vss.SEAT_RR_INTERVALS, SEAT_SILENCE.gate)
    assert sum(1 for rr in seat.values() if rr) > 0.6 * 43  # the seat still feels the beats


def test_the_generated_seat_feels_no_beats_in_asystole() -> None:
    onset = 900.0
    readings = vehicle_stream(1002, [Event("cardiac", onset, onset + 60, {"subtype": "asystole"})])
    before = by_second(
        [(t, s) for t, s in readings if onset - 30 < t < onset],
        vss.SEAT_QUALITY,
        vss.SEAT_RR_INTERVALS,
        0.0,
    )
    after = by_second(
        [(t, s) for t, s in readings if onset + 2 < t < onset + 60],
        vss.SEAT_QUALITY,
        vss.SEAT_RR_INTERVALS,
        0.0,
    )
    assert sum(1 for rr in before.values() if rr) > 0.5 * len(before)
    assert sum(1 for rr in after.values() if rr) < 0.15 * len(after)


def test_a_wheel_that_sends_no_intervals_is_not_a_stopped_heart() -> None:
    # a sensor of round 8's kind sends a rate and its quality, never intervals
    def vehicle(t: float) -> Signals:
        signals: Signals = dict(steady_vehicle(t))
        if round(t * 10) % 10 == 3:
            signals[vss.DRIVER_HEART_RATE_QUALITY] = 0.0 if int(t) % 30 < 10 else 0.8
            signals[vss.DRIVER_HEART_RATE] = 72.0
        return signals

    assert run(END + 60, vehicle, band_off) == []


# 90 bpm, then falling to 35 bpm within five beats
FALL = [900.0, 1150.0, 1400.0, 1600.0, 1700.0]


def test_band_lost_hands_off_and_the_seats_rate_falling_fast_is_bradycardia_on_two_beats() -> None:
    alerts = run(END, car(falling(667.0, FALL, EVENT), good), band_off)
    assert kinds(alerts) == [("cardiac", "bradycardia")]
    assert alerts[0].evidence["sensor"] == "seat"
    assert alerts[0].evidence["heartRateBefore"] > 85
    # before the third interval under 40 bpm is in (what the three-interval rule waits for)
    assert alerts[0].raised < fallen_by(667.0, FALL, EVENT, 1)


def test_a_silence_made_mostly_of_unreadable_seconds_is_not_asystole() -> None:
    # a beating heart the seat cannot follow: one readable second without a beat, then three
    # shaken ones, over and over (each stretch of shaking shorter than the pause allows)
    def sent(t: float) -> bool:
        return t < EVENT

    def quality(t: float) -> float:
        return 0.8 if t < EVENT or int(t - EVENT) % 4 == 0 else 0.3

    def vehicle(t: float) -> Signals:
        signals: Signals = dict(steady_vehicle(t))
        if round(t * 10) % 10 == 3:
            signals[vss.DRIVER_HEART_RATE_QUALITY] = 0.0
            signals[vss.SEAT_QUALITY] = quality(t)
            if sent(t):
                signals[vss.SEAT_RR_INTERVALS] = [857.0]
        return signals

    assert run(END + 60, vehicle, band_off) == []
