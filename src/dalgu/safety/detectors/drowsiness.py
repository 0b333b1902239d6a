"""Drowsiness: the driver's HRV leaving its awake control region (MSPC), fused with the car's view
of the same driver: fewer small steering reversals, a less predictable wheel (entropy), lane
departures, eyes off the road (long closures), looser speed keeping, and time on task.

Every signal is judged against this driver's own first minutes at the wheel (`CALIBRATION`),
not a population threshold. The evidence is a weighted sum, evaluated every 10 s; a finding
needs it above the threshold three times running.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from dalgu.safety.detectors.base import CALIBRATION, Finding, Quality
from dalgu.safety.detectors.mspc import HrvMspc
from dalgu.safety.features import hrv_features, prediction_errors, reversal_rate, steering_entropy
from dalgu.safety.history import History, Second

EVERY = 10  # s between evaluations
HRV_WINDOW = 180  # s, as Fujiwara et al.
CAR_WINDOW = 60  # s
VEHICLE_FEATURES = ("reversals", "entropy", "perclos", "speedSd", "closures")


@dataclass(frozen=True)
class DrowsinessWeights:
    hrv: float = 0.5
    reversals: float = 0.45
    entropy: float = 0.45
    departures: float = 1.0
    perclos: float = 0.3
    closures: float = 0.6
    speed: float = 0.25
    time_on_task: float = 0.4  # per hour
    threshold: float = 4.0
    confirmations: int = 3


class DrowsinessDetector:
    name = "drowsiness"

    def __init__(self, weights: DrowsinessWeights | None = None) -> None:
        self.weights = weights or DrowsinessWeights()
        self.mspc = HrvMspc()
        self._hrv_training: list[np.ndarray] = []
        self._car_training: list[np.ndarray] = []
        self.alpha: float | None = None
        self._errors: list[np.ndarray] = []
        self.car_mean: np.ndarray | None = None
        self.car_scale: np.ndarray | None = None
        self._above = 0
        self._since: float | None = None
        self.last_evidence: dict[str, float] = {}

    def step(self, history: History, quality: Quality) -> Finding | None:
        elapsed = history.now - history.start
        if round(elapsed) % EVERY != 0 or elapsed < CAR_WINDOW:
            return None
        hrv = self._hrv(history) if elapsed >= HRV_WINDOW else None
        car = self._car(history)
        if elapsed <= CALIBRATION:
            if hrv is not None:
                self._hrv_training.append(hrv)
            if car is not None:
                self._car_training.append(car)
            return None
        if not self.mspc.trained and self._hrv_training:
            self.mspc.fit(self._hrv_training)
            self._hrv_training = []
        if self.car_mean is None and len(self._car_training) >= 10:
            training = np.vstack(self._car_training)
            known = ~np.isnan(training)
            counts = np.maximum(known.sum(axis=0), 1)
            filled = np.where(known, training, 0.0)
            self.car_mean = filled.sum(axis=0) / counts
            spread = np.sqrt(np.where(known, (training - self.car_mean) ** 2, 0.0).sum(0) / counts)
            self.car_scale = np.maximum(spread, [3.0, 0.05, 0.03, 0.5, 1.0])
        evidence = self._evidence(history, hrv, car, elapsed)
        self.last_evidence = evidence
        w = self.weights
        if evidence["score"] < w.threshold:
            self._above = 0
            self._since = None
            return None
        self._above += 1
        if self._since is None:
            self._since = history.now
        if self._above < w.confirmations:
            return None
        margin = evidence["score"] - w.threshold
        return Finding(
            "drowsiness",
            "drowsy-driving",
            "high" if margin > 2 else "medium",
            float(min(0.99, 0.6 + 0.1 * margin)),
            self._since,
            {k: round(v, 3) for k, v in evidence.items()},
        )

    def _hrv(self, history: History) -> np.ndarray | None:
        seconds = history.last(HRV_WINDOW)
        good = sum(1 for s in seconds if s.worn and (s.quality or 0) >= 0.5)
        if good < 0.7 * HRV_WINDOW:
            return None
        return hrv_features(history.rr(HRV_WINDOW))

    def _car(self, history: History) -> np.ndarray | None:
        seconds = history.last(CAR_WINDOW)
        if sum(s.vehicle_samples >= 8 for s in seconds) < 0.8 * CAR_WINDOW:
            return None
        speeds = np.array([s.speed for s in seconds if s.speed is not None])
        if len(speeds) < 30:
            return None
        perclos = float(np.mean([s.eyes_off for s in seconds]))
        closures = float(_closures(seconds))
        if speeds.mean() < 50:  # town traffic: the wheel and the pedal say little, the eyes do
            return np.array([np.nan, np.nan, perclos, np.nan, closures])
        angles = history.steering(CAR_WINDOW)
        if self.alpha is None:
            errors = prediction_errors(angles)
            self._errors.append(errors)
            if history.now - history.start >= CALIBRATION:
                joined = np.concatenate(self._errors) if self._errors else errors
                self.alpha = float(np.percentile(np.abs(joined), 90)) if len(joined) else 0.1
        alpha = self.alpha or float(np.percentile(np.abs(prediction_errors(angles)), 90) + 1e-3)
        return np.array(
            [
                reversal_rate(angles, 0.5),
                steering_entropy(angles, alpha),
                perclos,
                float(speeds.std()),
                closures,
            ]
        )

    def _evidence(
        self, history: History, hrv: np.ndarray | None, car: np.ndarray | None, elapsed: float
    ) -> dict[str, float]:
        w = self.weights
        recent = history.last(120)
        departures = float(sum(s.lane_warning_onsets for s in recent))
        hrv_score = self.mspc.score(hrv) if hrv is not None and self.mspc.trained else 0.0
        z = np.zeros(len(VEHICLE_FEATURES))
        if car is not None and self.car_mean is not None and self.car_scale is not None:
            z = np.nan_to_num((car - self.car_mean) / self.car_scale, nan=0.0)
        hours = elapsed / 3600.0
        parts = {
            "hrv": w.hrv * float(np.clip(hrv_score - 1.0, 0, 2)),
            "reversals": w.reversals * float(np.clip(-z[0], 0, 4)),
            "entropy": w.entropy * float(np.clip(z[1], 0, 3)),
            "departures": w.departures * min(departures, 4.0),
            "perclos": w.perclos * float(np.clip(z[2], 0, 3)),
            "closures": w.closures * float(np.clip(z[4], 0, 3)),
            "speed": w.speed * float(np.clip(z[3], 0, 3)),
            "timeOnTask": w.time_on_task * min(hours, 3.0),
        }
        return {
            **parts,
            "score": sum(parts.values()),
            "hrvMspc": hrv_score,
            "laneDepartures2min": departures,
        }


def _closures(seconds: list[Second]) -> int:
    """Eyes off the road for 1.5 s or more (closures, long glances), counted once each."""
    return sum(
        1 for a, b in itertools.pairwise(seconds) if b.eyes_off_run >= 1.5 and a.eyes_off_run < 1.5
    )
