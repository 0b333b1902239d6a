"""Each detector on crafted signals: it fires on its event, and not on the look-alike."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from dalgu.errors import BadRequestData
from dalgu.safety import signals as vss
from dalgu.safety.detectors.base import Quality
from dalgu.safety.detectors.drowsiness import DrowsinessDetector
from dalgu.safety.detectors.drowsiness_features import FEATURES, DrowsinessFeatures
from dalgu.safety.detectors.drowsiness_model import DrowsinessModel, default_model
from dalgu.safety.detectors.mspc import HrvMspc
from dalgu.safety.detectors.quality import SignalQualityGate
from dalgu.safety.features import (
    hrv_features,
    prediction_errors,
    reversal_rate,
    steering_entropy,
)
from dalgu.safety.history import History
from dalgu.safety.scenario import Sample
from tests.safety.crafted import collapsing_from, run, samples, steady_vehicle, steady_wearable

EVENT = 800.0  # after the ten minutes of calibration


def test_a_steady_awake_driver_raises_nothing() -> None:
    assert run(1000, steady_vehicle, steady_wearable) == []


def test_a_stopped_heart_with_the_band_in_contact_is_asystole() -> None:
    def wearable(t: float) -> dict[str, object] | None:
        if t < EVENT:
            return steady_wearable(t)
        return {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.45, vss.RR_INTERVALS: []}

    def vehicle(t: float) -> dict[str, object]:
        signals = steady_vehicle(t)
        if t > EVENT + 2:  # the driver faints: the wheel goes still, the eyes off the road
            signals.update(
                {vss.STEERING: 0.0, vss.EYES_ON_ROAD: False, vss.SPEED: 90 - (t - EVENT)}
            )
        return signals

    alerts = run(EVENT + 30, vehicle, wearable)  # type: ignore[arg-type]
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "asystole")]
    assert EVENT + 4 <= alerts[0].raised <= EVENT + 6  # the still wheel confirms it sooner
    assert alerts[0].severity == "critical" and alerts[0].evidence["steeringStopped"]


def test_a_band_slipping_off_is_not_an_emergency() -> None:
    def wearable(t: float) -> dict[str, object] | None:
        if t < EVENT:
            return steady_wearable(t)
        if t < EVENT + 60:
            return {vss.IS_WORN: False, vss.SIGNAL_QUALITY: 0.0}
        return {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.1, vss.HEART_RATE: 190.0, vss.SPO2: 75.0}

    assert run(EVENT + 120, steady_vehicle, wearable) == []  # type: ignore[arg-type]


def test_a_telematics_gap_is_not_a_still_wheel() -> None:
    def vehicle(t: float) -> dict[str, object] | None:
        return None if EVENT <= t < EVENT + 30 else steady_vehicle(t)

    assert run(EVENT + 60, vehicle, steady_wearable) == []  # type: ignore[arg-type]


def test_no_steering_while_the_car_drifts_and_slows_is_incapacitation() -> None:
    alerts = run(EVENT + 20, collapsing_from(EVENT), steady_wearable)
    assert [a.type for a in alerts] == ["incapacitation"]
    assert alerts[0].raised - EVENT <= 8
    assert alerts[0].location == (35.87, 128.6)


def test_severe_bradycardia_and_tachycardia_from_good_beats() -> None:
    for rate, kind in ((34.0, "bradycardia"), (185.0, "tachycardia")):

        def wearable(t: float, rate: float = rate) -> dict[str, object]:
            return steady_wearable(t, rate if t >= EVENT else 70.0)

        alerts = run(EVENT + 20, steady_vehicle, wearable)  # type: ignore[arg-type]
        assert [(a.type, a.subtype) for a in alerts] == [("cardiac", kind)]
        assert alerts[0].raised - EVENT <= 8


def test_irregular_beats_are_an_arrhythmia() -> None:
    rng = np.random.default_rng(3)

    def wearable(t: float) -> dict[str, object]:
        signals = steady_wearable(t)
        if t >= EVENT:
            signals[vss.RR_INTERVALS] = [float(x) for x in rng.normal(480, 110, 2)]
        return signals

    alerts = run(EVENT + 30, steady_vehicle, wearable)  # type: ignore[arg-type]
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "arrhythmia")]


def test_low_spo2_read_well_is_hypoxaemia_but_read_badly_is_not() -> None:
    for quality, expected in ((0.9, ["hypoxaemia"]), (0.2, [])):

        def wearable(t: float, quality: float = quality) -> dict[str, object]:
            signals = steady_wearable(t)
            if t >= EVENT:
                signals.update({vss.SPO2: 84.0, vss.SIGNAL_QUALITY: quality})
            return signals

        alerts = run(EVENT + 20, steady_vehicle, wearable)  # type: ignore[arg-type]
        assert [a.type for a in alerts] == expected


def test_drowsy_steering_lane_departures_and_closures_raise_drowsiness() -> None:
    def vehicle(t: float) -> dict[str, object]:
        signals = steady_vehicle(t)
        if t >= EVENT:
            phase = t % 20
            drifting = phase < 3  # a microsleep: wheel still, eyes closed, then a big correction
            if drifting:
                signals.update({vss.STEERING: 0.2, vss.EYES_ON_ROAD: False})
            elif phase < 4:
                signals[vss.STEERING] = 8.0
            signals[vss.LANE_WARNING] = 2.5 < phase < 4
        return signals

    alerts = run(EVENT + 180, vehicle, steady_wearable)  # type: ignore[arg-type]
    assert alerts and alerts[0].type == "drowsiness"
    assert alerts[0].raised - EVENT <= 90
    assert {a.category for a in alerts} == {"drowsiness"}  # lapses are not incapacitation


def test_the_quality_gate_tells_absent_poor_and_ok() -> None:
    history = History()
    gate = SignalQualityGate()
    for second in range(5):
        history.add(Sample(second + 0.5, "vehicle", {vss.SPEED: 50.0}))
        history.add(Sample(second + 0.5, "wearable", {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.9}))
        history.close()
    assert gate.assess(history) == Quality("ok", "gap")
    history.add(Sample(5.5, "wearable", {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.1}))
    history.close()
    history.add(Sample(6.5, "wearable", {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.1}))
    history.close()
    assert gate.assess(history).wearable == "poor"
    for _ in range(4):
        history.close()
    assert gate.assess(history).wearable == "absent"


def test_steering_features_follow_the_definitions() -> None:
    t = np.arange(600) / 10.0
    wave = 2.0 * np.sin(2 * np.pi * 0.5 * t)  # 0.5 Hz, 4° peak to peak: 60 reversals a minute
    assert 55 <= reversal_rate(wave, 0.5) <= 61
    assert reversal_rate(wave, 5.0) == 0
    noisy = wave + np.random.default_rng(1).normal(0, 0.5, len(t))
    alpha = float(np.percentile(np.abs(prediction_errors(wave)), 90))
    assert steering_entropy(noisy, alpha) > steering_entropy(wave, alpha)


def test_mspc_flags_hrv_outside_the_awake_region() -> None:
    rng = np.random.default_rng(5)
    awake = [
        hrv_features(800 + 30 * np.sin(np.arange(200) * 1.3) + rng.normal(0, 10, 200))
        for _ in range(30)
    ]
    mspc = HrvMspc()
    assert mspc.fit([a for a in awake if a is not None])
    drowsy = hrv_features(900 + 90 * np.sin(np.arange(200) * 0.5) + rng.normal(0, 25, 200))
    assert drowsy is not None
    assert mspc.score(awake[0]) < 1.0 < mspc.score(drowsy)  # type: ignore[arg-type]


def test_two_slow_beats_of_three_are_bradycardia_at_once() -> None:
    def wearable(t: float) -> dict[str, object] | None:
        if t < EVENT:
            return steady_wearable(t)
        # 30 bpm: a beat every other second, with the band in good contact
        beat = [2000.0] if int(t) % 2 == 0 else []
        return {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.9, vss.RR_INTERVALS: beat}

    alerts = run(EVENT + 30, steady_vehicle, wearable)  # type: ignore[arg-type]
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "bradycardia")]
    assert alerts[0].raised <= EVENT + 5  # the second slow beat, not a median of five


def test_one_long_pause_is_not_bradycardia() -> None:
    def wearable(t: float) -> dict[str, object] | None:
        signals = steady_wearable(t)
        if EVENT <= t < EVENT + 1:  # a missed beat: one interval twice as long
            signals[vss.RR_INTERVALS] = [1714.0]
        return signals

    assert run(EVENT + 30, steady_vehicle, wearable) == []  # type: ignore[arg-type]


def _town(t: float) -> dict[str, float | bool | list[float] | None]:
    signals = steady_vehicle(t)
    signals[vss.SPEED] = 15.0 + 5.0 * np.sin(t / 7.0) if t > 300 else 90.0
    return signals


def test_a_collapse_in_town_traffic_is_incapacitation() -> None:
    def vehicle(t: float) -> dict[str, object]:
        signals = _town(t)
        if t > EVENT:  # looked away while moving, never looked back, the car rolls to a stop
            signals.update(
                {
                    vss.STEERING: 0.0,
                    vss.EYES_ON_ROAD: False,
                    vss.SPEED: max(0.0, 15.0 + 5.0 * np.sin(EVENT / 7.0) - 2.0 * (t - EVENT)),
                }
            )
        return signals

    alerts = run(EVENT + 30, vehicle, steady_wearable)  # type: ignore[arg-type]
    assert [(a.type, a.evidence.get("speedWhenEyesLeft") is not None) for a in alerts] == [
        ("incapacitation", True)
    ]
    assert alerts[0].raised <= EVENT + 9


def test_a_collapse_while_crawling_at_6_kmh_is_incapacitation() -> None:
    # the first eyes-off second already has the car slowing (its mean under 5 km/h): the
    # speed when the eyes left is the second before's too
    def vehicle(t: float) -> dict[str, object]:
        signals = _town(t)
        if t > EVENT - 60:
            signals[vss.SPEED] = max(0.0, 6.0 - 2.5 * max(0.0, t - EVENT))
        if t > EVENT + 0.4:
            signals.update({vss.STEERING: 0.0, vss.EYES_ON_ROAD: False})
        return signals

    alerts = run(EVENT + 30, vehicle, steady_wearable)  # type: ignore[arg-type]
    assert [a.type for a in alerts] == ["incapacitation"]
    assert alerts[0].evidence["speedWhenEyesLeft"] >= 5.0
    assert alerts[0].raised <= EVENT + 9


def _slumping(t: float, *, eyes: bool = False, fall: float = 2.2) -> dict[str, object]:
    """From EVENT on: the wheel self-centres and rests, the car coasts down by `fall` km/h/s."""
    signals = steady_vehicle(t)
    if t >= EVENT:
        signals.update(
            {vss.STEERING: 0.4, vss.EYES_ON_ROAD: eyes, vss.SPEED: 90 - fall * (t - EVENT)}
        )
    return signals


def _band_off_from(start: float) -> Callable[[float], dict[str, object] | None]:
    def wearable(t: float) -> dict[str, object] | None:
        if t < start:
            return steady_wearable(t)
        return {vss.IS_WORN: False, vss.SIGNAL_QUALITY: 0.0}

    return wearable


def test_a_collapse_under_a_lost_band_is_found_by_the_car_within_four_seconds() -> None:
    # the band slipped off a minute before; the driver slumps: a still wheel, the eyes off the
    # road and the car coasting down, together, are enough after 3 s (the 6-s rule took 6-7 s)
    alerts = run(EVENT + 20, _slumping, _band_off_from(EVENT - 60))  # type: ignore[arg-type]
    assert [(a.type, a.subtype) for a in alerts] == [("incapacitation", "slumped-without-wearable")]
    assert alerts[0].raised - EVENT <= 4.5
    assert alerts[0].severity == "critical" and alerts[0].evidence["wearable"] == "absent"


def test_with_the_band_worn_a_still_wheel_waits_for_the_six_second_rule() -> None:
    alerts = run(EVENT + 20, _slumping, steady_wearable)  # type: ignore[arg-type]
    assert [(a.type, a.subtype) for a in alerts] == [("incapacitation", "no-steering-input")]
    assert alerts[0].raised - EVENT >= 5


def test_under_a_lost_band_a_lapse_at_speed_or_coasting_eyes_on_is_not_a_collapse() -> None:
    band = _band_off_from(EVENT - 60)

    def lapse(t: float) -> dict[str, object]:  # eyes closed, wheel held, speed kept
        return _slumping(t, fall=0.0) if t < EVENT + 3.5 else steady_vehicle(t)

    def easing_off(t: float) -> dict[str, object]:  # looking at the road, letting it roll
        return _slumping(t, eyes=True) if t < EVENT + 8 else steady_vehicle(t)

    assert run(EVENT + 30, lapse, band) == []  # type: ignore[arg-type]
    assert run(EVENT + 30, easing_off, band) == []  # type: ignore[arg-type]


def test_looking_away_while_stopped_in_traffic_is_not_incapacitation() -> None:
    def vehicle(t: float) -> dict[str, object]:
        signals = _town(t)
        if EVENT <= t < EVENT + 20:  # stopped at a light, still, reading something
            signals.update({vss.STEERING: 0.0, vss.EYES_ON_ROAD: False, vss.SPEED: 0.0})
        return signals

    assert run(EVENT + 40, vehicle, steady_wearable) == []  # type: ignore[arg-type]


def test_a_heart_rate_that_jumps_then_loses_its_signal_is_an_unconfirmed_cardiac_finding() -> None:
    def wearable(t: float) -> dict[str, object] | None:
        if t < EVENT:
            return steady_wearable(t)
        if t < EVENT + 4:  # the rate races to 140 bpm with good contact ...
            return steady_wearable(t, 140.0)
        return {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.1}  # ... then the band says nothing

    alerts = run(EVENT + 30, steady_vehicle, wearable)  # type: ignore[arg-type]
    assert [(a.type, a.subtype, a.severity) for a in alerts] == [
        ("cardiac", "unconfirmed", "medium")
    ]
    assert alerts[0].raised <= EVENT + 6
    assert alerts[0].evidence["heartRate"] > 120 and alerts[0].evidence["heartRateBefore"] < 80


def _falls_then_lost(level: float, to: float) -> Callable[[float], dict[str, object] | None]:
    """The band at `level` bpm, at `to` from `EVENT` for 4 s with good contact, then quiet."""

    def wearable(t: float) -> dict[str, object] | None:
        if t < EVENT:
            return steady_wearable(t, level)  # type: ignore[return-value]
        if t < EVENT + 4:
            return steady_wearable(t, to)  # type: ignore[return-value]
        return {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.1}

    return wearable


def test_a_heart_rate_that_falls_a_quarter_to_under_60_then_is_lost_is_unconfirmed() -> None:
    alerts = run(EVENT + 30, steady_vehicle, _falls_then_lost(80.0, 56.0))  # type: ignore[arg-type]
    assert [(a.type, a.subtype, a.severity) for a in alerts] == [
        ("cardiac", "unconfirmed", "medium")
    ]
    assert alerts[0].raised <= EVENT + 7
    assert alerts[0].evidence["heartRate"] < 60 and alerts[0].evidence["heartRateBefore"] > 75


def test_a_smaller_fall_or_one_that_stays_over_60_is_not_unconfirmed() -> None:
    assert run(EVENT + 30, steady_vehicle, _falls_then_lost(80.0, 56.0))  # type: ignore[arg-type]
    assert run(EVENT + 30, steady_vehicle, _falls_then_lost(70.0, 56.0)) == []  # type: ignore[arg-type]
    assert run(EVENT + 30, steady_vehicle, _falls_then_lost(90.0, 62.0)) == []  # type: ignore[arg-type]


def test_a_signal_lost_at_a_steady_or_slowly_rising_rate_is_not_unconfirmed() -> None:
    def wearable(t: float) -> dict[str, object] | None:
        if t >= EVENT:
            return {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.1}
        # traffic stress: 70 -> 100 bpm over a minute, then the band slips
        return steady_wearable(t, 70.0 + 30.0 * min(1.0, max(0.0, (t - EVENT + 60) / 60)))

    assert run(EVENT + 30, steady_vehicle, wearable) == []  # type: ignore[arg-type]


def test_drowsiness_features_sit_at_the_drivers_awake_level_when_nothing_changes() -> None:
    history = History()
    features = DrowsinessFeatures()
    seen: list[dict[str, float]] = []
    for sample in samples(900, steady_vehicle, steady_wearable):
        while history.due(sample.t):
            history.close()
            x = features.observe(history)
            if x is not None:
                seen.append(x)
        history.add(sample)
    assert len(seen) == 29  # every 10 s after the ten minutes of calibration: 610 ... 890 s
    for x in seen:
        assert set(x) == set(FEATURES)
        assert x["wearableGap"] == x["vehicleGap"] == x["town"] == 0.0
        assert all(abs(x[f]) <= 1.5 for f in ("MeanNN", "meanNN60", "reversals", "entropy"))


class _Scripted:
    """Feature vectors from a script instead of a vehicle: one `departures` value a call."""

    stored = False  # read against the drive's own reference (the usual limit)

    def __init__(self, values: list[float]) -> None:
        self.values = iter(values)

    def observe(self, history: History) -> dict[str, float] | None:
        return {"departures": next(self.values)}


def _cusum_findings(values: list[float]) -> list[int]:
    model = DrowsinessModel(("departures",), (1.0,), bias=0.0, drift=1.0, limit=3.0)
    detector = DrowsinessDetector(model)
    detector.features = _Scripted(values)  # type: ignore[assignment]
    history = History()
    found = []
    for step in range(len(values)):
        history.close()
        if detector.step(history, Quality("ok", "ok")) is not None:
            found.append(step)
    return found


def test_the_cusum_adds_steady_weak_evidence_up_and_forgets_one_odd_window() -> None:
    # log-odds 2 (one above the drift) each time: the sum reaches the limit of 3 at the third
    assert _cusum_findings([0.0, 2.0, 2.0, 2.0, 2.0]) == [3, 4]
    # one window of 3.5 and then awake: never reaches the limit, and falls back to zero
    assert _cusum_findings([3.5, 0.0, 0.0, 2.0, 2.0]) == []


def test_a_drowsiness_model_round_trips_through_json_and_refuses_a_mismatch() -> None:
    model = default_model()
    assert DrowsinessModel.from_json(model.to_json()) == model
    assert model.features == FEATURES  # the committed model reads what the features give
    with pytest.raises(BadRequestData):
        DrowsinessModel(("a", "b"), (1.0,), 0.0, 0.0, 1.0)
    with pytest.raises(BadRequestData):
        DrowsinessModel.from_json(b'{"features": []}')


def _braking_for_a_light(t: float, *, pedal: bool) -> dict[str, object]:
    """From EVENT on: the driver brakes at 4 km/h/s to a stop with the wheel reading exactly
    still and the eyes on a phone; the car sends its brake pedal when `pedal`."""
    signals = steady_vehicle(t)
    if t >= EVENT:
        signals.update(
            {
                vss.STEERING: 0.3,
                vss.EYES_ON_ROAD: False,
                vss.SPEED: max(0.0, 88 - 4.0 * (t - EVENT)),
            }
        )
    if pedal:
        signals[vss.BRAKE_PEDAL] = 30.0 if t >= EVENT else 0.0
    return signals


@pytest.mark.parametrize("band", ["worn", "lost"])
def test_a_driver_on_the_brake_is_not_incapacitated(band: str) -> None:
    """An outside test: braking for a light while glancing at a phone, the wheel reading
    exactly still, raised a critical incapacitation alert within 5 s (the band in good contact
    with a regular heart, or loose). The speed alone cannot tell gentle braking from a car
    rolling down; a car that sends its brake pedal can. Without the pedal the alert stays."""
    wearable = steady_wearable if band == "worn" else _band_off_from(EVENT - 60)

    def with_pedal(t: float) -> dict[str, object]:
        return _braking_for_a_light(t, pedal=True)

    def without(t: float) -> dict[str, object]:
        return _braking_for_a_light(t, pedal=False)

    assert run(EVENT + 40, with_pedal, wearable) == []  # type: ignore[arg-type]
    unsaid = run(EVENT + 40, without, wearable)  # type: ignore[arg-type]
    assert [a.type for a in unsaid] == ["incapacitation"]
