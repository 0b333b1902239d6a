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
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dalgu.safety.detectors.base import CALIBRATION
from dalgu.safety.detectors.mspc import HrvMspc, positive, vector
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


@dataclass(slots=True)
class AwakeReference:
    """What the features are read against: one driver's awake heart, HRV and driving."""

    mspc: HrvMspc = field(default_factory=HrvMspc)
    heart_mean: float | None = None
    heart_scale: float = 1.0
    car_mean: Array | None = None
    car_scale: Array | None = None
    alpha: float | None = None  # the steering-entropy bin, the awake 90th percentile

    @property
    def empty(self) -> bool:
        return not self.mspc.trained and self.heart_mean is None and self.car_mean is None

    def filled_from(self, other: AwakeReference) -> AwakeReference:
        """This reference, with the parts it lacks (a band off all along) taken from `other`."""
        car = self.car_mean is not None
        return AwakeReference(
            self.mspc if self.mspc.trained else other.mspc,
            self.heart_mean if self.heart_mean is not None else other.heart_mean,
            self.heart_scale if self.heart_mean is not None else other.heart_scale,
            self.car_mean if car else other.car_mean,
            self.car_scale if car else other.car_scale,
            self.alpha if self.alpha is not None else other.alpha,
        )

    def to_json(self) -> dict[str, Any]:
        """What a driver's stored baseline keeps of it (JSON)."""
        doc: dict[str, Any] = {}
        hrv = self.mspc.to_json()
        if hrv is not None:
            doc["hrv"] = hrv
        if self.heart_mean is not None:
            doc["heart"] = {"mean": self.heart_mean, "scale": self.heart_scale}
        if self.car_mean is not None and self.car_scale is not None:
            doc["car"] = {"mean": self.car_mean.tolist(), "scale": self.car_scale.tolist()}
        if self.alpha is not None:
            doc["steeringAlpha"] = self.alpha
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> AwakeReference:
        """A reference kept by `to_json`; ValueError when a part of it is malformed."""
        reference = cls()
        hrv = doc.get("hrv")
        if hrv is not None:
            if not isinstance(hrv, Mapping):
                raise ValueError("hrv is not an object")
            reference.mspc = HrvMspc.from_json(hrv, len(HRV_FEATURES))
        heart = doc.get("heart")
        if heart is not None:
            if not isinstance(heart, Mapping):
                raise ValueError("heart is not an object")
            reference.heart_mean = positive(heart.get("mean"))
            reference.heart_scale = positive(heart.get("scale"))
        car = doc.get("car")
        if car is not None:
            if not isinstance(car, Mapping):
                raise ValueError("car is not an object")
            reference.car_mean = vector(car.get("mean"), len(CAR_FEATURES))
            scale = vector(car.get("scale"), len(CAR_FEATURES))
            reference.car_scale = np.maximum(scale, CAR_FLOOR)
        if "steeringAlpha" in doc:
            reference.alpha = positive(doc["steeringAlpha"])
        return reference


class DrowsinessFeatures:
    """One driver's feature vector every `EVERY` s, read against their awake reference.

    The reference is learnt from the drive's first `CALIBRATION` seconds. Until then the features
    are read against the driver's stored reference (`adopt`, learnt in an earlier drive) when
    there is one, and are not read at all when there is none. When the drive's own reference is
    learnt it takes over, unless `keep_stored` was set (the first minutes were found drowsy
    against the stored one: their signals are not the driver's awake state).
    """

    def __init__(self) -> None:
        self.reference: AwakeReference | None = None  # what the features are read against
        self.own: AwakeReference | None = None  # learnt from this drive's first minutes
        self.stored = False  # the reference is the driver's stored one
        self.keep_stored = False
        self._hrv_training: list[Array] = []
        self._heart_training: list[float] = []
        self._car_training: list[Array] = []
        self._errors: list[Array] = []
        self._alpha: float | None = None  # this drive's steering-entropy bin, once learnt

    def adopt(self, stored: AwakeReference) -> None:
        """Read the first minutes against the driver's stored awake reference."""
        if self.own is None and not stored.empty:
            self.reference, self.stored = stored, True

    def observe(self, history: History) -> dict[str, float] | None:
        """The features now, or None (not an evaluation second, or no reference yet)."""
        elapsed = history.now - history.start
        if round(elapsed) % EVERY != 0 or elapsed < CAR_WINDOW:
            return None
        hrv = self._hrv(history) if elapsed >= HRV_WINDOW else None
        heart = self._heart(history)
        window = _car_window(history)
        angles = window.angles if window is not None else None
        if elapsed <= CALIBRATION:
            car = _car(window, self._alpha_for(angles, elapsed, None))
            if hrv is not None:
                self._hrv_training.append(hrv)
            if heart is not None:
                self._heart_training.append(heart)
            if car is not None:
                self._car_training.append(car)
            if self.reference is None:
                return None
            stored_alpha = self.reference.alpha
            car = _car(window, stored_alpha) if stored_alpha is not None else car
            return self._features(history, hrv, heart, car, elapsed)
        self.settle()
        reference_alpha = self.reference.alpha if self.reference is not None else None
        car = _car(window, self._alpha_for(angles, elapsed, reference_alpha))
        return self._features(history, hrv, heart, car, elapsed)

    def settle(self) -> AwakeReference:
        """The calibration minutes are over: learn the drive's own reference (once) and read
        against it from now on (unless `keep_stored`)."""
        if self.own is None:
            self.own = self._learn()
            if self.reference is None:
                self.reference = self.own
            elif not self.keep_stored:
                self.reference, self.stored = self.own.filled_from(self.reference), False
        return self.own

    def kept(self) -> AwakeReference:
        """The drive's own reference as a stored baseline keeps it (after `settle`): with the
        steering bin of the calibration minutes' errors when the drive has not learnt its own
        yet (it does at its first minute at speed after them)."""
        own = self.settle()
        if own.alpha is not None or not self._errors:
            return own
        errors = np.abs(np.concatenate(self._errors))
        if not len(errors):
            return own
        return replace(own, alpha=float(np.percentile(errors, 90)))

    def _learn(self) -> AwakeReference:
        reference = AwakeReference()
        if self._hrv_training:
            reference.mspc.fit(self._hrv_training)
            self._hrv_training = []
        if len(self._heart_training) >= 10:
            reference.heart_mean = float(np.mean(self._heart_training))
            reference.heart_scale = max(float(np.std(self._heart_training)), 15.0)
        if len(self._car_training) >= 10:
            training = np.vstack(self._car_training)
            known = ~np.isnan(training)
            counts = np.maximum(known.sum(axis=0), 1)
            reference.car_mean = np.where(known, training, 0.0).sum(axis=0) / counts
            spread = np.where(known, (training - reference.car_mean) ** 2, 0.0).sum(axis=0) / counts
            reference.car_scale = np.maximum(np.sqrt(spread), CAR_FLOOR)
        self._heart_training, self._car_training = [], []
        reference.alpha = self._alpha
        return reference

    def _alpha_for(self, angles: Array | None, elapsed: float, known: float | None) -> float | None:
        """The bin steering entropy uses: `known`, else this drive's own once learnt (its errors
        are gathered at speed until the first window at speed after the calibration minutes),
        else None (the window's own, in `_car`)."""
        if self._alpha is None and angles is not None:
            self._errors.append(prediction_errors(angles))
            if elapsed >= CALIBRATION:
                joined = np.concatenate(self._errors)
                self._alpha = float(np.percentile(np.abs(joined), 90)) if len(joined) else 0.1
                self._errors = []
                if self.own is not None and self.own.alpha is None:
                    self.own.alpha = self._alpha
        if known is not None:
            return known
        return self._alpha

    def _hrv(self, history: History) -> Array | None:
        if not _band_on(history.last(HRV_WINDOW), HRV_WINDOW):
            return None
        return hrv_features(history.rr(HRV_WINDOW))

    def _heart(self, history: History) -> float | None:
        rr = history.rr(HEART_WINDOW)
        rr = rr[(rr > 300) & (rr < 2000)]
        return float(np.median(rr)) if len(rr) >= 30 else None

    def _features(
        self,
        history: History,
        hrv: Array | None,
        heart: float | None,
        car: Array | None,
        elapsed: float,
    ) -> dict[str, float]:
        x = dict.fromkeys(FEATURES, 0.0)
        ref = self.reference or AwakeReference()
        mspc = ref.mspc
        if hrv is not None and mspc.trained and mspc.mean is not None:
            assert mspc.scale is not None
            x["hrvMspc"] = float(np.clip(mspc.score(hrv) - 1.0, 0.0, 3.0))
            z = np.clip((hrv - mspc.mean) / mspc.scale, -Z_LIMIT, Z_LIMIT)
            x.update(zip(HRV_FEATURES, z.tolist(), strict=True))
        elif elapsed >= HRV_WINDOW or not _band_on(history.last(HRV_WINDOW), elapsed):
            x["wearableGap"] = 1.0
        # else a band worn for less than the HRV window (a stored reference's first minutes):
        # its HRV is not known yet, which is not a band gone
        if heart is not None and ref.heart_mean is not None:
            z60 = (heart - ref.heart_mean) / ref.heart_scale
            x["meanNN60"] = float(np.clip(z60, -Z_LIMIT, Z_LIMIT))
        if car is not None and ref.car_mean is not None and ref.car_scale is not None:
            z = np.nan_to_num((car - ref.car_mean) / ref.car_scale, nan=0.0)
            x.update(zip(CAR_FEATURES, np.clip(z, -Z_LIMIT, Z_LIMIT).tolist(), strict=True))
            x["town"] = float(np.isnan(car[0]))
        else:
            x["vehicleGap"] = 1.0
        x["departures"] = float(min(sum(s.lane_warning_onsets for s in history.last(120)), 4))
        x["timeOnTask"] = min(elapsed / 3600.0, 3.0)
        return x


@dataclass(frozen=True, slots=True)
class CarWindow:
    """The telematics unit's last `CAR_WINDOW` seconds, heard well enough to read."""

    seconds: list[Second]
    speeds: Array
    angles: Array | None  # the wheel's angles, at speed; None in town


def _car_window(history: History) -> CarWindow | None:
    seconds = history.last(CAR_WINDOW)
    if sum(s.vehicle_samples >= 8 for s in seconds) < 0.8 * CAR_WINDOW:
        return None
    speeds = np.array([s.speed for s in seconds if s.speed is not None])
    if len(speeds) < 30:
        return None
    angles = history.steering(CAR_WINDOW) if speeds.mean() >= TOWN else None
    return CarWindow(seconds, speeds, angles)


def _car(window: CarWindow | None, alpha: float | None) -> Array | None:
    """The driving features of the window; steering entropy binned by `alpha` (None: the
    window's own 90th percentile); in town, no wheel or speed-keeping features."""
    if window is None:
        return None
    perclos = float(np.mean([s.eyes_off for s in window.seconds]))
    closures = float(_closures(window.seconds))
    angles = window.angles
    if angles is None:
        return np.array([np.nan, np.nan, perclos, np.nan, closures])
    if alpha is None:
        alpha = float(np.percentile(np.abs(prediction_errors(angles)), 90) + 1e-3)
    return np.array(
        [
            reversal_rate(angles, 0.5),
            steering_entropy(angles, alpha),
            perclos,
            float(window.speeds.std()),
            closures,
        ]
    )


def _band_on(seconds: list[Second], span: float) -> bool:
    """The wearable sent good beats for most of the last `span` seconds."""
    good = sum(1 for s in seconds if s.worn and (s.quality or 0) >= 0.5)
    return good >= 0.7 * span


def _closures(seconds: list[Second]) -> int:
    """Eyes off the road for 1.5 s or more (closures, long glances), counted once each."""
    return sum(
        1 for a, b in itertools.pairwise(seconds) if b.eyes_off_run >= 1.5 and a.eyes_off_run < 1.5
    )
