"""Hypoxaemia: SpO2 below 90 % (or well below the driver's own level), read with good quality."""

from __future__ import annotations

import statistics

from dalgu.safety.detectors.base import CALIBRATION, Finding, Quality
from dalgu.safety.detectors.quality import GOOD
from dalgu.safety.history import History


class HypoxaemiaDetector:
    name = "hypoxaemia"

    def __init__(self, limit: float = 90.0, below_baseline: float = 6.0, window: int = 5) -> None:
        self.limit = limit
        self.below_baseline = below_baseline
        self.window = window
        self._calibration: list[float] = []
        self.baseline: float | None = None

    def step(self, history: History, quality: Quality) -> Finding | None:
        readings = [
            s.spo2
            for s in history.last(self.window)
            if s.spo2 is not None and s.worn and (s.quality or 0.0) >= GOOD
        ]
        if history.now <= history.start + CALIBRATION:
            self._calibration.extend(readings[-1:])
            return None
        if self.baseline is None and self._calibration:
            self.baseline = statistics.median(self._calibration)
        if len(readings) < self.window - 1:
            return None
        level = statistics.median(readings)
        limit = self.limit
        if self.baseline is not None:
            limit = min(limit + 0.5, max(limit - 2.0, self.baseline - self.below_baseline))
        if level > limit:
            return None
        return Finding(
            "hypoxaemia",
            "desaturation",
            "critical" if level < 85 else "high",
            0.9 if level < 88 else 0.75,
            history.now - self.window,
            {"spo2": level, "driverBaselineSpo2": self.baseline, "limit": limit},
        )
