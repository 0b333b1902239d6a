"""What the drowsiness model reads: one driver's signals, every 10 s, as departures from their own
awake first minutes at the wheel (`CALIBRATION`), never against a population threshold.

- Heart (the wearable's good beats): the eight HRV features of Fujiwara et al. over 180 s, each as
  a signed z-score against the awake windows, and their MSPC statistic (distance from the awake
  control region); the mean beat interval over the last 60 s, which reacts sooner. Signed,
  because drowsiness slows the heart and widens its variability while traffic stress and a phone
  call do the opposite: the unsigned MSPC alone cannot tell them apart.
- Car (the telematics unit, 60 s): steering reversals and steering entropy (above 50 km/h; in town
  traffic the wheel follows the traffic, not the driver's alertness), eyes off the road (PERCLOS,
  long closures), speed keeping, lane departures over two minutes.
- Context: time on task, town traffic, a silent wearable or telematics unit.

A feature whose source is missing is 0 (the driver's awake level), with its gap flag set.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

from dalgu.safety.detectors.base import CALIBRATION
from dalgu.safety.detectors.mspc import HrvMspc
from dalgu.safety.features import (
    HRV_FEATURES,
    hrv_features,
    prediction_errors,
    reversal_rate,
    steering_entropy,
)
from dalgu.safety.history import History, Second

Array = NDArray[np.float64]
EVERY = 10  # s between evaluations
HRV_WINDOW = 180  # s, as Fujiwara et al.
HEART_WINDOW = 60  # s
CAR_WINDOW = 60  # s
TOWN = 50.0  # km/h: below it the wheel and the pedal say little about alertness
CAR_FEATURES = ("reversals", "entropy", "perclos", "speedSd", "closures")
CAR_FLOOR = np.array([3.0, 0.05, 0.03, 0.5, 1.0])  # least spread a z-score divides by
Z_LIMIT = 4.0
FEATURES = (
    "hrvMspc",
    *HRV_FEATURES,
    "meanNN60",
    *CAR_FEATURES,
    "departures",
    "timeOnTask",
    "town",
    "wearableGap",
    "vehicleGap",
)


class DrowsinessFeatures:
    """One driver's feature vector every `EVERY` s once the awake baseline is learnt."""

    def __init__(self) -> None:
        self.mspc = HrvMspc()
        self._hrv_training: list[Array] = []
        self._heart_training: list[float] = []
        self._car_training: list[Array] = []
        self._errors: list[Array] = []
        self.alpha: float | None = None
        self.heart_mean: float | None = None
        self.heart_scale = 1.0
        self.car_mean: Array | None = None
        self.car_scale: Array | None = None

    def observe(self, history: History) -> dict[str, float] | None:
        """The features now, or None (not an evaluation second, or still learning the baseline)."""
        elapsed = history.now - history.start
        if round(elapsed) % EVERY != 0 or elapsed < CAR_WINDOW:
            return None
        hrv = self._hrv(history) if elapsed >= HRV_WINDOW else None
        heart = self._heart(history)
        car = self._car(history, elapsed)
        if elapsed <= CALIBRATION:
            if hrv is not None:
                self._hrv_training.append(hrv)
            if heart is not None:
                self._heart_training.append(heart)
            if car is not None:
                self._car_training.append(car)
            return None
        self._learn()
        return self._features(history, hrv, heart, car, elapsed)

    def _learn(self) -> None:
        if not self.mspc.trained and self._hrv_training:
            self.mspc.fit(self._hrv_training)
            self._hrv_training = []
        if self.heart_mean is None and len(self._heart_training) >= 10:
            self.heart_mean = float(np.mean(self._heart_training))
            self.heart_scale = max(float(np.std(self._heart_training)), 15.0)
        if self.car_mean is None and len(self._car_training) >= 10:
            training = np.vstack(self._car_training)
            known = ~np.isnan(training)
            counts = np.maximum(known.sum(axis=0), 1)
            self.car_mean = np.where(known, training, 0.0).sum(axis=0) / counts
            spread = np.where(known, (training - self.car_mean) ** 2, 0.0).sum(axis=0) / counts
            self.car_scale = np.maximum(np.sqrt(spread), CAR_FLOOR)

    def _hrv(self, history: History) -> Array | None:
        seconds = history.last(HRV_WINDOW)
        good = sum(1 for s in seconds if s.worn and (s.quality or 0) >= 0.5)
        if good < 0.7 * HRV_WINDOW:
            return None
        return hrv_features(history.rr(HRV_WINDOW))

    def _heart(self, history: History) -> float | None:
        rr = history.rr(HEART_WINDOW)
        rr = rr[(rr > 300) & (rr < 2000)]
        return float(np.median(rr)) if len(rr) >= 30 else None

    def _car(self, history: History, elapsed: float) -> Array | None:
        seconds = history.last(CAR_WINDOW)
        if sum(s.vehicle_samples >= 8 for s in seconds) < 0.8 * CAR_WINDOW:
            return None
        speeds = np.array([s.speed for s in seconds if s.speed is not None])
        if len(speeds) < 30:
            return None
        perclos = float(np.mean([s.eyes_off for s in seconds]))
        closures = float(_closures(seconds))
        if speeds.mean() < TOWN:
            return np.array([np.nan, np.nan, perclos, np.nan, closures])
        angles = history.steering(CAR_WINDOW)
        if self.alpha is None:
            self._errors.append(prediction_errors(angles))
            if elapsed >= CALIBRATION:
                joined = np.concatenate(self._errors)
                self.alpha = float(np.percentile(np.abs(joined), 90)) if len(joined) else 0.1
                self._errors = []
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

    def _features(
        self,
        history: History,
        hrv: Array | None,
        heart: float | None,
        car: Array | None,
        elapsed: float,
    ) -> dict[str, float]:
        x = dict.fromkeys(FEATURES, 0.0)
        if hrv is not None and self.mspc.trained and self.mspc.mean is not None:
            assert self.mspc.scale is not None
            x["hrvMspc"] = float(np.clip(self.mspc.score(hrv) - 1.0, 0.0, 3.0))
            z = np.clip((hrv - self.mspc.mean) / self.mspc.scale, -Z_LIMIT, Z_LIMIT)
            x.update(zip(HRV_FEATURES, z.tolist(), strict=True))
        else:
            x["wearableGap"] = 1.0
        if heart is not None and self.heart_mean is not None:
            z60 = (heart - self.heart_mean) / self.heart_scale
            x["meanNN60"] = float(np.clip(z60, -Z_LIMIT, Z_LIMIT))
        if car is not None and self.car_mean is not None and self.car_scale is not None:
            z = np.nan_to_num((car - self.car_mean) / self.car_scale, nan=0.0)
            x.update(zip(CAR_FEATURES, np.clip(z, -Z_LIMIT, Z_LIMIT).tolist(), strict=True))
            x["town"] = float(np.isnan(car[0]))
        else:
            x["vehicleGap"] = 1.0
        x["departures"] = float(min(sum(s.lane_warning_onsets for s in history.last(120)), 4))
        x["timeOnTask"] = min(elapsed / 3600.0, 3.0)
        return x


def _closures(seconds: list[Second]) -> int:
    """Eyes off the road for 1.5 s or more (closures, long glances), counted once each."""
    return sum(
        1 for a, b in itertools.pairwise(seconds) if b.eyes_off_run >= 1.5 and a.eyes_off_run < 1.5
    )
