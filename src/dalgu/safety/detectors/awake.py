"""A driver's awake level of one measure, and the set of them a driver carries from drive to drive.

A detector reads some measures against the driver's own level (the steering activity, the
SpO2): the median of the drive's first `CALIBRATION` seconds, when the driver is taken to be
awake and well. Until that median is settled, the level is, in this order:

- the driver's **stored** level (`DriverBaseline`, learnt in an earlier drive), when there is
  one: the drive is read against the driver's own awake level from its first second, as
  Fujiwara et al. (2019) read each driver against a model trained on that driver's awake data;
- a **provisional** median of the calibration values so far, once there are `least` of them;
- none: the detector falls back on its population bars, or waits.

Once settled, the drive's own median is the level (as before the stored baselines existed), so
a detector's reading after the first ten minutes does not depend on what earlier drives left.

A detector whose awake state is more than levels (drowsiness: a model of the driver's awake
heart-rate variability and driving) keeps it as a **profile**, a JSON object under its name.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

REFRESH = 10  # calibration values between two provisional medians (a median per second per
# vehicle and measure would cost the fleet's core more than the detectors themselves)


class AwakeLevel:
    def __init__(
        self,
        *,
        least: int = 60,
        minimum: int = 1,
        floor: float = -math.inf,
        fallback: float | None = None,
    ) -> None:
        self.least = least  # values before a provisional level
        self.minimum = minimum  # values for the drive's own level once settled
        self.floor = floor
        self.fallback = fallback  # the settled level of a drive that gave no value
        self.known: float | None = None  # the driver's stored level
        self._values: list[float] = []
        self._settled = False
        self._final: float | None = None
        self._provisional: float | None = None
        self._counted = 0

    @property
    def settled(self) -> bool:
        return self._settled

    def observe(self, value: float) -> None:
        """A value of the calibration minutes (ignored once settled)."""
        if not self._settled:
            self._values.append(value)

    def settle(self) -> None:
        """The calibration minutes are over: the drive's own median becomes the level."""
        if self._settled:
            return
        self._settled = True
        if len(self._values) >= max(self.minimum, 1):
            self._final = max(statistics.median(self._values), self.floor)
        self._values = []

    @property
    def learnt(self) -> float | None:
        """The drive's own level (what a stored baseline keeps), once settled."""
        return self._final

    @property
    def measured(self) -> float | None:
        """The level from values (the drive's or a stored one), never the fallback."""
        if self._final is not None:
            return self._final
        if self.known is not None:
            return self.known
        if self._settled:
            return None
        count = len(self._values)
        if count < self.least:
            return None
        if self._provisional is None or count - self._counted >= REFRESH:
            self._provisional = max(statistics.median(self._values), self.floor)
            self._counted = count
        return self._provisional

    @property
    def level(self) -> float | None:
        measured = self.measured
        if measured is None and self._settled:
            return self.fallback
        return measured


@runtime_checkable
class Personal(Protocol):
    """A detector that reads some measures against the driver's awake levels."""

    def awake_levels(self) -> dict[str, AwakeLevel]:
        """Its levels by measure name (`<detector>.<measure>`), the same objects each call."""


@runtime_checkable
class Profiled(Protocol):
    """A detector that reads the driver against an awake state richer than levels."""

    name: str

    def awake_profile(self) -> dict[str, Any] | None:
        """The state this drive learnt (JSON), once its calibration minutes are over."""

    def adopt_profile(self, profile: Mapping[str, Any]) -> None:
        """Read against a stored state; ValueError when it is malformed."""


def adopt(detector: object, baseline: DriverBaseline) -> None:
    """Give a detector the driver's stored levels and profile of what it reads."""
    if isinstance(detector, Personal):
        for name, level in detector.awake_levels().items():
            value = baseline.levels.get(name)
            if value is not None and math.isfinite(value):
                level.known = float(value)
    if isinstance(detector, Profiled):
        profile = baseline.profiles.get(detector.name)
        if profile is not None:
            try:
                detector.adopt_profile(profile)
            except ValueError as error:  # read without it, as a driver with no baseline
                log.warning(
                    "%s's stored %s profile unread: %s", baseline.driver, detector.name, error
                )


@dataclass(frozen=True, slots=True)
class Calibration:
    """What one drive's calibration minutes learnt of its driver."""

    levels: dict[str, float] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.levels and not self.profiles


def learnt(detectors: Iterable[object]) -> Calibration:
    """The levels and profiles the detectors settled in this drive."""
    levels: dict[str, float] = {}
    profiles: dict[str, dict[str, Any]] = {}
    for detector in detectors:
        if isinstance(detector, Personal):
            for name, level in detector.awake_levels().items():
                if level.learnt is not None:
                    levels[name] = level.learnt
        if isinstance(detector, Profiled):
            profile = detector.awake_profile()
            if profile is not None:
                profiles[detector.name] = profile
    return Calibration(levels, profiles)


@dataclass(frozen=True, slots=True)
class DriverBaseline:
    """A driver's awake levels, learnt in the first minutes of one drive that raised no alert."""

    driver: str
    levels: dict[str, float] = field(default_factory=dict)
    learnt_at: float = 0.0  # s since the epoch: the end of the calibration minutes
    vehicle: str | None = None  # the drive's vehicle
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # by detector name

    @classmethod
    def of(
        cls, driver: str, calibration: Calibration, learnt_at: float, vehicle: str | None
    ) -> DriverBaseline:
        return cls(driver, calibration.levels, learnt_at, vehicle, calibration.profiles)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "driver": self.driver,
            "levels": dict(sorted(self.levels.items())),
            "learntAt": self.learnt_at,
        }
        if self.vehicle is not None:
            doc["vehicle"] = self.vehicle
        if self.profiles:
            doc["profiles"] = dict(sorted(self.profiles.items()))
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> DriverBaseline:
        """Read a stored baseline; a malformed one raises ValueError."""
        driver = doc.get("driver")
        levels = doc.get("levels")
        if not isinstance(driver, str) or not isinstance(levels, Mapping):
            raise ValueError("a driver baseline needs a driver and levels")
        kept: dict[str, float] = {}
        for name, value in levels.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"level {name!r} is not a number")
            if math.isfinite(value):
                kept[str(name)] = float(value)
        profiles = doc.get("profiles", {})
        if not isinstance(profiles, Mapping) or not all(
            isinstance(p, Mapping) for p in profiles.values()
        ):
            raise ValueError("profiles are not objects by detector")
        at = doc.get("learntAt", 0.0)
        vehicle = doc.get("vehicle")
        return cls(
            driver,
            kept,
            float(at) if isinstance(at, int | float) and not isinstance(at, bool) else 0.0,
            vehicle if isinstance(vehicle, str) else None,
            {str(name): dict(p) for name, p in profiles.items()},
        )
