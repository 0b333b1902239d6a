"""One vehicle followed in time: samples in, alerts out.

The same object serves the live service (fed from the gateway) and the evaluation (fed from a
scenario file as fast as it can be read): the detectors cannot tell the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dalgu.safety.alert import Alert
from dalgu.safety.detectors.base import Detector, Finding
from dalgu.safety.detectors.baseline import ThresholdBaseline
from dalgu.safety.detectors.cardiac import CardiacDetector
from dalgu.safety.detectors.drowsiness import DrowsinessDetector
from dalgu.safety.detectors.hypoxaemia import HypoxaemiaDetector
from dalgu.safety.detectors.incapacitation import IncapacitationDetector
from dalgu.safety.detectors.quality import SignalQualityGate
from dalgu.safety.fusion import AlertPolicy
from dalgu.safety.history import History
from dalgu.safety.scenario import Sample

DetectorSet = Callable[[], Sequence[Detector]]


def standard_detectors() -> list[Detector]:
    return [
        CardiacDetector(),
        HypoxaemiaDetector(),
        IncapacitationDetector(),
        DrowsinessDetector(),
    ]


def baseline_detectors() -> list[Detector]:
    return [ThresholdBaseline()]


class VehicleMonitor:
    def __init__(
        self,
        vehicle: str,
        driver: str | None = None,
        *,
        start: float = 0.0,
        detectors: DetectorSet = standard_detectors,
    ) -> None:
        self.vehicle = vehicle
        self.driver = driver
        self.history = History(start)
        self.gate = SignalQualityGate()
        self.detectors = list(detectors())
        self.policy = AlertPolicy()

    def feed(self, sample: Sample) -> list[Alert]:
        """Take one sample (in time order); alerts of the seconds it closed."""
        alerts = self.advance(sample.t)
        self.history.add(sample)
        if self.history.covered():
            alerts.extend(self.advance(self.history.current.t))
        return alerts

    def advance(self, t: float) -> list[Alert]:
        """Close every second that ended by `t` (a clock tick for a vehicle gone quiet)."""
        alerts: list[Alert] = []
        while self.history.due(t):
            self.history.close()
            alerts.extend(self._evaluate())
        return alerts

    def _evaluate(self) -> list[Alert]:
        history = self.history
        quality = self.gate.assess(history)
        findings: list[Finding] = []
        for detector in self.detectors:
            finding = detector.step(history, quality)
            if finding is not None:
                findings.append(finding)
        if not findings:
            return []
        location = (
            (history.latitude, history.longitude)
            if history.latitude is not None and history.longitude is not None
            else None
        )
        return [
            Alert.of(f, self.vehicle, self.driver, history.now, location)
            for f in self.policy.admit(findings, history.now)
        ]
