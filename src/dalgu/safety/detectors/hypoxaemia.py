"""Hypoxaemia: SpO2 below 90 % (or well below the driver's own level), read with good quality.

The band's SpO2 is read first. When it gives none (lost, loose or off the wrist), the car's
driver-monitoring camera (`CabinSensor.Camera.SpO2`, since round 12) is read instead: an
rPPG estimate, noisier and biased per driver, which under-reads a desaturation's depth and
has none while the face is out of view. Its rule is relative to the camera's own level in the
drive's first ten minutes (its bias cancels) and must hold for some seconds, since its error
changes slowly and a few wild estimates come through (the median takes those).

The camera's bars were chosen on the tuning drives 1000-1319 only (docs/safety-evaluation.md,
"Round 12"): the rule was run on every second of every whole drive whatever the band did, and
each finding outside a medical event (5 s before its onset to 60 s after its end) counted as
false.

A band that loses its SpO2 while a desaturation is under way has often seen it begin: its
last good readings already a few points under the driver's level of a quarter-minute before
(`BandFall`, round 13). Such a fall, in the seconds before the band went quiet, is raised at
once rather than left to the camera; its bars (a drop of 4 points, as sleep medicine scores a
desaturation, to at most 92 %) were checked on the same tuning drives, round 13.
"""

from __future__ import annotations

import statistics

from dalgu.safety.detectors.awake import AwakeLevel
from dalgu.safety.detectors.base import CALIBRATION, Finding, Quality
from dalgu.safety.detectors.quality import GOOD
from dalgu.safety.history import History, Second


def band_spo2(second: Second) -> float | None:
    """The band's SpO2 of that second when it is believed (worn, good signal), else None."""
    if second.spo2 is not None and second.worn and (second.quality or 0.0) >= GOOD:
        return second.spo2
    return None


class CameraSpO2:
    """The camera's desaturation rule: the median of its estimates of the last `window`
    seconds at quality >= `gate` (at least `least` of them) at or under `limit`, or `drop`
    under its own level of the first ten minutes, for `hold` seconds in a row."""

    def __init__(
        self,
        *,
        gate: float = 0.5,
        window: int = 6,
        least: int = 3,
        limit: float = 84.0,
        drop: float = 10.0,
        hold: int = 3,
    ) -> None:
        self.gate = gate
        self.window = window
        self.least = least
        self.limit = limit
        self.drop = drop
        self.hold = hold
        # the camera's own level (its bias cancels): the drive's first ten minutes, or the
        # driver's stored level, or a provisional median of the first minute of estimates
        self.own = AwakeLevel(minimum=60)
        self._run = 0
        self.level: float | None = None  # the last median read
        self.bar: float | None = None  # the last bar it was held against

    @property
    def baseline(self) -> float | None:
        return self.own.level

    def step(self, history: History) -> bool:
        """Read the last second; whether a desaturation has held `hold` seconds."""
        last = history.last(1)
        if history.now <= history.start + CALIBRATION:
            if last:
                second = last[-1]
                if second.camera_spo2 is not None and (second.camera_quality or 0.0) >= self.gate:
                    self.own.observe(second.camera_spo2)
        else:
            self.own.settle()
        readings = [
            s.camera_spo2
            for s in history.last(self.window)
            if s.camera_spo2 is not None and (s.camera_quality or 0.0) >= self.gate
        ]
        if len(readings) < self.least:
            self._run = 0  # too little to read: neither a desaturation nor its end
            self.level = None
            return False
        self.level = statistics.median(readings)
        baseline = self.baseline
        bar = self.limit if baseline is None else max(self.limit, baseline - self.drop)
        self.bar = bar
        self._run = self._run + 1 if self.level <= bar else 0
        return self._run >= self.hold


class BandFall:
    """A desaturation the band saw begin before it lost its SpO2: the median of its last
    `least` good readings (the last of them at most `fresh` seconds old) at or under `limit`
    and at least `drop` points under its level `before` seconds earlier (the median of the good
    readings then, at least `before_least` of them). Read once per loss."""

    def __init__(
        self,
        *,
        least: int = 3,
        fresh: float = 5.0,
        limit: float = 92.0,
        drop: float = 4.0,
        before: tuple[float, float] = (15.0, 30.0),
        before_least: int = 8,
    ) -> None:
        self.least = least
        self.fresh = fresh
        self.limit = limit
        self.drop = drop
        self.before = before
        self.before_least = before_least
        self._told = False

    def step(self, history: History, band_reads: bool) -> tuple[float, float, float] | None:
        """(last good reading's time, its level, the level before) when the band, now giving
        no SpO2 (`band_reads` False), saw a fall before it went quiet; else None."""
        if band_reads:
            self._told = False
            return None
        if self._told:
            return None
        good = [
            (s.t, spo2)
            for s in history.last(int(self.before[1] + self.fresh) + 1)
            if (spo2 := band_spo2(s)) is not None
        ]
        if len(good) < self.least or history.now - good[-1][0] > self.fresh:
            return None
        last_seen = good[-1][0]
        recent = [v for t, v in good[-self.least :] if last_seen - t <= self.fresh]
        earlier = [v for t, v in good if self.before[0] <= last_seen - t <= self.before[1]]
        if len(recent) < self.least or len(earlier) < self.before_least:
            return None
        level, before = statistics.median(recent), statistics.median(earlier)
        if level > self.limit or before - level < self.drop:
            return None
        self._told = True
        return last_seen, level, before


class HypoxaemiaDetector:
    name = "hypoxaemia"

    def __init__(
        self,
        limit: float = 90.0,
        below_baseline: float = 6.0,
        window: int = 5,
        camera: CameraSpO2 | None = None,
        fall: BandFall | None = None,
    ) -> None:
        self.limit = limit
        self.below_baseline = below_baseline
        self.window = window
        # the band's SpO2 while awake: the drive's first ten minutes (a reading a second), or
        # the driver's stored level, or a provisional median of the first minute
        self.own = AwakeLevel()
        self.camera = camera if camera is not None else CameraSpO2()
        self.fall = fall if fall is not None else BandFall()

    @property
    def baseline(self) -> float | None:
        return self.own.level

    def awake_levels(self) -> dict[str, AwakeLevel]:
        return {"hypoxaemia.spo2": self.own, "hypoxaemia.cameraSpo2": self.camera.own}

    def step(self, history: History, quality: Quality) -> Finding | None:
        readings = [spo2 for s in history.last(self.window) if (spo2 := band_spo2(s)) is not None]
        # the camera reads every second (its level and its run need them all); it is believed
        # only when the band gives no SpO2
        camera = self.camera.step(history)
        if history.now <= history.start + CALIBRATION:
            for reading in readings[-1:]:
                self.own.observe(reading)
        else:
            self.own.settle()
        if len(readings) < self.window - 1:
            fall = self.fall.step(history, band_reads=False)
            if fall is not None:
                return self._fall_finding(*fall)
            return self._camera_finding(history) if camera else None
        self.fall.step(history, band_reads=True)
        level = statistics.median(readings)
        limit = self.limit
        baseline = self.baseline
        if baseline is not None:
            limit = min(limit + 0.5, max(limit - 2.0, baseline - self.below_baseline))
        if level > limit:
            return None
        return Finding(
            "hypoxaemia",
            "desaturation",
            "critical" if level < 85 else "high",
            0.9 if level < 88 else 0.75,
            history.now - self.window,
            {"spo2": level, "driverBaselineSpo2": baseline, "limit": limit},
        )

    def _fall_finding(self, last_seen: float, level: float, before: float) -> Finding:
        return Finding(
            "hypoxaemia",
            "desaturation",
            "high",
            0.6,
            last_seen,
            {"sensor": "band", "spo2": level, "spo2Before": before, "bandLostAfter": last_seen},
        )

    def _camera_finding(self, history: History) -> Finding:
        camera = self.camera
        level = camera.level if camera.level is not None else 0.0
        return Finding(
            "hypoxaemia",
            "desaturation",
            "high",
            0.6,
            history.now - camera.window - camera.hold,
            {
                "sensor": "camera",
                "spo2": level,
                "cameraBaselineSpo2": camera.baseline,
                "limit": camera.bar,
            },
        )
