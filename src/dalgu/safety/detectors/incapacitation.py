"""Incapacitation: no steering input while the car drifts on at speed.

The wheel's activity (summed absolute change, 10 Hz) over the last window is compared with the
driver's own activity while awake at speed; near-none, at speed, with a corroborating sign
and two corroborating signs (eyes off the road, a lane departure, the car slowing with nobody
on the pedal) is a finding. A telematics gap is not "no steering": the window must be fully covered.

"Nobody on the pedal" is read from the car's brake pedal where it sends one
(`Vehicle.Chassis.Brake.PedalPosition`): a driver pressing the brake during the window is in
control, whatever the wheel and the eyes do (a driver braking for a light while glancing at a
phone, the wheel reading exactly still, raised a critical alert in an outside test). A car
that does not send it is read as before, from its speed alone, which cannot tell gentle
braking from a car rolling down; the generator's cars send none, so the evaluation's figures
are those of the speed alone.

With the wearable lost (slipped, loose or silent), the heart cannot say whether the driver
collapsed, so the car must, and sooner: a wheel gone still, the eyes off the road and the car
rolling down with nobody on the pedal, all three together for `SLACK` seconds at speed, is a
finding (`slumped-without-wearable`). Together they are stronger than any one alone: a drowsy
lapse holds the wheel with the eyes closed but the car keeps its speed; a driver easing off
looks at the road; the band's loss alone is never an emergency. Chosen on tuning drives
1000-1319: no false alarm, and a collapse under a lost band found 1-3 s sooner.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from dalgu.safety.detectors.awake import AwakeLevel
from dalgu.safety.detectors.base import CALIBRATION, Finding, Quality
from dalgu.safety.history import History, Second

WINDOW = 6  # s (longer than a microsleep, in which the wheel also rests)
TOWN_EYES_OFF = 6.0  # s: at town speeds, eyes off the road this long with the car rolling on
ROLLING = 4.0  # km/h lost in a second at most: a car rolling to a stop, nobody braking
SLACK = 3  # s: with the wearable lost, still wheel + eyes off + rolling down this long
SLACK_FALL = 1.0  # km/h lost in each of those seconds at least (coasting loses about 2)
BRAKING = 5.0  # %: the brake pedal pressed further than this is a driver braking


def braking(seconds: Sequence[Second]) -> bool:
    """Did the car say its brake pedal was pressed in any of these seconds."""
    return any(s.brake is not None and s.brake > BRAKING for s in seconds)


def steering_activity(angles: np.ndarray, rate: float = 10.0) -> float:
    """Degrees the wheel moved, summed, per second (`rate`: the car's samples a second)."""
    if len(angles) < 2:
        return 0.0
    return float(np.abs(np.diff(angles)).sum() / (len(angles) / rate))


class IncapacitationDetector:
    name = "incapacitation"

    def __init__(self, ratio: float = 0.3, min_speed: float = 25.0) -> None:
        self.ratio = ratio
        self.min_speed = min_speed
        # the driver's awake steering activity at speed (`awake`): the drive's first ten
        # minutes, or the driver's stored level, or a provisional median of the first minutes
        self.activity = AwakeLevel(least=30, floor=0.5, fallback=3.0)

    def awake_levels(self) -> dict[str, AwakeLevel]:
        return {"incapacitation.steeringActivity": self.activity}

    def step(self, history: History, quality: Quality) -> Finding | None:
        if history.now > history.start + CALIBRATION:
            self.activity.settle()
        if quality.wearable != "ok":
            slumped = self._slumped_without_wearable(history, quality)
            if slumped is not None:
                return slumped
        window = history.last(WINDOW)
        if len(window) < WINDOW or not all(map(history.whole, window)):
            return None
        speeds = [s.speed for s in window if s.speed is not None]
        if len(speeds) < WINDOW:
            return None
        if braking(history.last(max(WINDOW, int(window[-1].eyes_off_run) + 1))):
            return None  # a driver on the brake is in control
        activity = steering_activity(history.steering(WINDOW), history.car_rate)
        if min(speeds) < self.min_speed:
            return self._rolling_to_a_stop(history, activity)
        if history.now <= history.start + CALIBRATION:
            self.activity.observe(activity)
        baseline = self.activity.level
        if baseline is None:
            return None
        relative = activity / baseline
        if relative >= self.ratio:
            return None
        eyes_off = window[-1].eyes_off_run
        departed = sum(s.lane_warning_onsets for s in history.last(8))
        slowing = speeds[0] - speeds[-1]
        signs = (eyes_off >= 2.5) + (departed > 0) + (slowing >= 4.0)
        if signs < 2:
            return None
        return Finding(
            "incapacitation",
            "no-steering-input",
            "critical",
            min(0.99, 0.6 + 0.13 * signs + 0.2 * (self.ratio - relative) / self.ratio),
            window[0].t - 1.0,
            {
                "steeringActivity": round(activity, 3),
                "driverBaselineActivity": round(baseline, 3),
                "eyesOffRoadFor": round(eyes_off, 1),
                "laneDepartures": departed,
                "speedDrop": round(slowing, 1),
                "speed": round(speeds[-1], 1),
            },
        )

    def _slumped_without_wearable(self, history: History, quality: Quality) -> Finding | None:
        """The wearable is lost: three signs of a slumped driver together, for `SLACK` s."""
        baseline = self.activity.level
        if baseline is None:
            return None
        seconds = history.last(SLACK + 1)
        if len(seconds) < SLACK + 1 or not all(map(history.whole, seconds[1:])):
            return None
        if braking(seconds):
            return None  # a driver on the brake is in control
        eyes_off = seconds[-1].eyes_off_run
        if eyes_off < SLACK:
            return None
        speeds = [s.speed for s in seconds]
        if any(v is None or v < self.min_speed for v in speeds):
            return None
        drops = [a - b for a, b in itertools.pairwise(v for v in speeds if v is not None)]
        if min(drops) < SLACK_FALL or max(drops) > ROLLING:
            return None  # keeping speed (a lapse), or braking (a driver in control)
        activity = steering_activity(history.steering(SLACK), history.car_rate)
        relative = activity / baseline
        if relative >= self.ratio:
            return None
        return Finding(
            "incapacitation",
            "slumped-without-wearable",
            "critical",
            0.85,
            seconds[1].t - 1.0,
            {
                "steeringActivity": round(activity, 3),
                "driverBaselineActivity": round(baseline, 3),
                "eyesOffRoadFor": round(eyes_off, 1),
                "speedDrop": round(sum(drops), 1),
                "speed": round(speeds[-1] or 0.0, 1),
                "wearable": quality.wearable,
            },
        )

    def _rolling_to_a_stop(self, history: History, activity: float) -> Finding | None:
        """In town traffic the car is too slow to drift out of its lane: a driver who looked
        away while moving, never looked back and never steered again while the car rolled to
        a stop (slower now than then, nobody braking hard, nobody on the pedal) has collapsed,
        not stopped at a light."""
        baseline = self.activity.measured  # a level from the driver's steering, never the default
        if baseline is None:
            return None
        run = history.last(1)[-1].eyes_off_run
        if run < TOWN_EYES_OFF or activity >= self.ratio * baseline:
            return None
        seconds = history.last(int(run) + 1)
        # the car's speed when the eyes left: the run began inside its first second, whose mean
        # speed already has some of the roll in it, so the second before counts too (a car at
        # 6 km/h whose first eyes-off second averaged 4.96 was taken for one standing still)
        before = history.last(int(run) + 2)[0].speed if len(history.seconds) > run + 1 else None
        then = max((v for v in (seconds[0].speed, before) if v is not None), default=None)
        now = seconds[-1].speed
        if then is None or now is None or then < 5.0 or now > then - 2.0:
            return None
        speeds = [x.speed for x in seconds if x.speed is not None]
        if max(a - b for a, b in itertools.pairwise(speeds)) > ROLLING:
            return None  # braking hard: a driver stopping the car
        return Finding(
            "incapacitation",
            "no-steering-input",
            "critical",
            0.8,
            seconds[0].t - 1.0,
            {
                "steeringActivity": round(activity, 3),
                "driverBaselineActivity": round(baseline, 3),
                "eyesOffRoadFor": round(run, 1),
                "speedWhenEyesLeft": round(then, 1),
                "speed": round(now, 1),
            },
        )
