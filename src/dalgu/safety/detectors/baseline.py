"""The comparison: fixed population thresholds on the raw signals, as a simple system would do.

No personal baseline, no signal-quality gate, the last value held through gaps: heart rate
below 40 or above 150 bpm, SpO2 below 90 %, the wheel still for 5 s at speed, two lane
departures in two minutes or the eyes off the road for 2 s.
"""

from __future__ import annotations

from dalgu.safety.detectors.base import Finding, Quality
from dalgu.safety.history import History


class ThresholdBaseline:
    name = "threshold-baseline"

    def __init__(self) -> None:
        self.heart_rate: float | None = None
        self.spo2: float | None = None
        self.angle: float | None = None
        self.speed = 0.0
        self._run: dict[str, int] = {}
        self._angles: list[float] = []

    def step(self, history: History, quality: Quality) -> Finding | None:
        second = history.last(1)[-1]
        if second.wearable:
            self.heart_rate = second.heart_rate if second.worn else 0.0
            self.spo2 = second.spo2 if second.spo2 is not None else self.spo2
        if second.speed is not None:
            self.speed = second.speed
        angles = second.steering or ([self.angle] * 10 if self.angle is not None else [])
        if angles:
            self.angle = angles[-1]
        self._angles = (self._angles + angles)[-50:]
        checks = {
            "cardiac": self.heart_rate is not None
            and (self.heart_rate < 40 or self.heart_rate > 150),
            "hypoxaemia": self.spo2 is not None and self.spo2 < 90,
            "incapacitation": len(self._angles) >= 50
            and max(self._angles) - min(self._angles) < 0.5
            and self.speed > 30,
        }
        for kind, hit in checks.items():
            self._run[kind] = self._run.get(kind, 0) + 1 if hit else 0
            if self._run[kind] >= 3:
                return Finding(kind, "threshold", "critical", 0.8, history.now - 3, {})
        departures = sum(s.lane_warning_onsets for s in history.last(120))
        if departures >= 2 or second.eyes_off_run >= 2.0:
            return Finding(
                "drowsiness",
                "threshold",
                "medium",
                0.6,
                history.now,
                {"laneDepartures2min": departures, "eyesOffRoadFor": second.eyes_off_run},
            )
        return None
