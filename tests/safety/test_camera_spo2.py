"""The driver-monitoring camera's SpO2 estimate (round 12): read for a desaturation only when the
band gives no SpO2, against its own level of the first ten minutes, held for some seconds.

Each test that expects nothing also runs the same drive with a real desaturation and expects
it found, so none passes without the rule."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from dalgu.safety import signals as vss
from dalgu.safety.camera import camera_estimates, is_night
from dalgu.safety.detectors.hypoxaemia import CameraSpO2
from dalgu.safety.generator import generate_scenario
from dalgu.safety.history import History
from dalgu.safety.physiology import Body
from dalgu.safety.plan import DrivePlan
from dalgu.safety.scenario import Sample
from dalgu.safety.service import config_groups
from tests.safety.crafted import (
    EVENT,
    Signals,
    band_off,
    run,
    steady_vehicle,
    steady_wearable,
)

END = EVENT + 60
Reading = Callable[[float], tuple[float, float | None]]  # (quality, SpO2 or None) at a time


def camera(reading: Reading) -> Callable[[float], Signals]:
    """The steady car with the camera's estimate once a second."""

    def vehicle(t: float) -> Signals:
        signals: Signals = dict(steady_vehicle(t))
        if round(t * 10) % 10 == 3:
            quality, spo2 = reading(t)
            signals[vss.CAMERA_QUALITY] = quality
            if spo2 is not None:
                signals[vss.CAMERA_SPO2] = spo2
        return signals

    return vehicle


def noisy(seed: int, fall: bool) -> Reading:
    """97 % with the camera's slowly changing error (sd 2), a wild value now and then, at
    quality 0.5-0.7; with `fall`, a desaturation from `EVENT` at 0.5 %/s to 80 %."""
    rng = random.Random(seed)
    error = 0.0

    def reading(t: float) -> tuple[float, float | None]:
        nonlocal error
        error = 0.85 * error + rng.gauss(0.0, 2.0 * (1 - 0.85**2) ** 0.5)
        true = 97.0 - (min(17.0, 0.5 * (t - EVENT)) if fall and t >= EVENT else 0.0)
        value = rng.uniform(80, 100) if rng.random() < 0.02 else true + error
        return round(rng.uniform(0.5, 0.7), 2), float(round(min(value, 100.0)))

    return reading


def hypoxaemia(alerts: list) -> list:  # type: ignore[type-arg]
    return [a for a in alerts if a.type == "hypoxaemia"]


def test_a_falling_camera_spo2_under_a_lost_band_is_a_desaturation() -> None:
    found = hypoxaemia(run(END, camera(noisy(1, fall=True)), band_off))
    assert len(found) == 1
    # ten points under its level of 97 %: 20 s of the fall, then the median's lag and the hold
    assert EVENT + 20 <= found[0].raised <= EVENT + 35
    assert found[0].evidence["sensor"] == "camera"


def test_noisy_normal_camera_values_under_a_lost_band_are_not_a_desaturation() -> None:
    for seed in range(2, 6):
        assert hypoxaemia(run(END, camera(noisy(seed, fall=True)), band_off))
        assert not hypoxaemia(run(1500.0, camera(noisy(seed, fall=False)), band_off))


def test_the_face_out_of_view_is_no_desaturation() -> None:
    """Dropouts (no estimate, quality near 0) and estimates under the gate say nothing."""
    falling = noisy(7, fall=True)

    def dropped(t: float) -> tuple[float, float | None]:
        quality, spo2 = falling(t)
        if t < EVENT:
            return quality, spo2
        if int(t) % 3:
            return 0.1, None  # out of view two seconds in three
        return 0.2, 70.0  # the one left is under the gate

    assert hypoxaemia(run(END, camera(falling), band_off))
    assert not hypoxaemia(run(END, camera(dropped), band_off))


def test_the_camera_is_not_read_while_the_band_gives_spo2() -> None:
    assert hypoxaemia(run(END, camera(noisy(8, fall=True)), band_off))
    assert not hypoxaemia(run(END, camera(noisy(8, fall=True)), steady_wearable))


def test_history_keeps_the_cameras_estimate_with_its_quality_only() -> None:
    history = History()
    history.add(Sample(0.2, "vehicle", {vss.CAMERA_QUALITY: 0.7, vss.CAMERA_SPO2: 95.0}))
    history.add(Sample(0.4, "vehicle", {vss.CAMERA_SPO2: 80.0}))  # no quality: not read
    second = history.close()
    assert (second.camera_quality, second.camera_spo2) == (0.7, 95.0)


def test_config_groups_map_the_cameras_spo2() -> None:
    vehicles, _ = config_groups("v", "w", keep_cabin=True)["services"]
    mapped = {a["object_id"]: (a["name"], a["type"]) for a in vehicles["attributes"]}
    assert mapped[vss.CAMERA_SPO2] == ("cameraOxygenSaturation", "Number")
    assert mapped[vss.CAMERA_QUALITY] == ("cameraOxygenSaturationQuality", "Number")


def test_the_camera_rule_needs_its_hold() -> None:
    rule = CameraSpO2()
    history = History()
    fired = []
    for k in range(900):
        t = k + 0.3
        low = k >= 700
        history.add(
            Sample(t, "vehicle", {vss.CAMERA_QUALITY: 0.8, vss.CAMERA_SPO2: 80.0 if low else 97.0})
        )
        history.close()
        if rule.step(history):
            fired.append(history.now)
    assert rule.baseline == 97.0
    assert fired and fired[0] > 700 + rule.hold


# the generator's model


def _body(spo2: float, fall_at: float | None = None) -> Body:
    t = np.arange(0.0, 1202.0, 0.25)
    level = np.full(len(t), spo2)
    if fall_at is not None:
        level = level - np.clip((t - fall_at) * 0.5, 0.0, 15.0)
    return Body(t, np.full(len(t), 70.0), level, np.arange(0.5, 1200.0, 0.85), None)


def _estimates(body: Body, eyes_on: Callable[[float], bool], seed: int = 3) -> list:  # type: ignore[type-arg]
    plan = DrivePlan(1200.0, [], [])
    times = np.arange(0.0, 1200.0, 0.1)
    speed = (times, np.full(len(times), 60.0))
    gaze = (times, np.asarray([1.0 if eyes_on(float(x)) else 0.0 for x in times]))
    return camera_estimates(plan, body, speed, gaze, False, np.random.default_rng(seed))


def test_the_camera_model_tracks_a_desaturation_and_loses_a_turned_face() -> None:
    steady = _estimates(_body(97.0), lambda t: True)
    assert steady == _estimates(_body(97.0), lambda t: True)  # the same stream, the same readings
    values = [v for _, _, v in steady if v is not None]
    assert abs(float(np.median(values)) - 97.0) < 3.0
    fallen = _estimates(_body(97.0, fall_at=600.0), lambda t: True)
    late = [v for t, _, v in fallen if v is not None and t > 660]
    assert float(np.median(late)) < 91.0  # 82 % read shallower (the gain), but well down
    turned = _estimates(_body(97.0), lambda t: not 300 <= t < 400)
    during = [(q, v) for t, q, v in turned if 310 <= t < 400]
    assert during and all(v is None and q <= 0.2 for q, v in during)


def test_the_generated_drive_carries_the_camera_and_nights_are_local() -> None:
    scenario = generate_scenario(1000, duration=900.0)
    sent = [s for s in scenario.samples if vss.CAMERA_QUALITY in s.signals]
    assert len(sent) > 700
    assert is_night(12) and not is_night(3)  # 21:00 and 12:00 in Daegu (UTC+9)
