"""One vehicle followed in time: samples in, alerts out.

The same object serves the live service (fed from the gateway) and the evaluation (fed from a
scenario file as fast as it can be read): the detectors cannot tell the difference.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from dalgu.safety.alert import Alert, specificity
from dalgu.safety.detectors import awake
from dalgu.safety.detectors.awake import Calibration, DriverBaseline
from dalgu.safety.detectors.base import CALIBRATION, Detector, Finding
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

# s one source may lag the other before a second is judged without it: a telematics unit's
# message of ten samples (t .. t+0.9) may end past a second's bound before the wearable's
# message of that second arrives; judging on the car's samples alone lost the wearable of
# every second whenever the two were not aligned to whole seconds
LATENESS = 1.5


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
        baseline: DriverBaseline | None = None,
    ) -> None:
        self.vehicle = vehicle
        self.driver = driver
        self.history = History(start)
        self.gate = SignalQualityGate()
        self.detectors = list(detectors())
        self.policy = AlertPolicy()
        self._ahead: list[Sample] = []  # samples of seconds not yet open, in time order
        self._newest = start
        # the awake levels and profiles this drive settled after its calibration minutes, when
        # they raised no alert (None until then, and for a drive whose first minutes raised one)
        self.calibrated: Calibration | None = None
        self._calibrating = True
        self._alerted = False
        self.rates_checked = False  # the live service logs once a drive when its rates are off
        # the medical alert of the open episode, as last told; and the updates of it a more
        # specific finding of that episode made: (as it stood, as it stands now), for the
        # live service to write (the evaluation, which matches raised alerts, ignores them)
        self._medical: Alert | None = None
        self.updates: list[tuple[Alert, Alert]] = []
        if baseline is not None:
            self.adopt(baseline)

    @property
    def newest(self) -> float:
        """The time of the newest sample fed."""
        return self._newest

    def adopt(self, baseline: DriverBaseline) -> None:
        """Read the drive against the driver's stored awake levels until it has its own."""
        for detector in self.detectors:
            awake.adopt(detector, baseline)

    def feed(self, sample: Sample) -> list[Alert]:
        """Take one sample; alerts of the seconds it closed.

        A sample of a second not yet open waits (in time order) until the current second is
        closed: when both sources have sent it all (`History.covered`), or when the newest
        sample is `LATENESS` past its end (a source gone quiet or late)."""
        history = self.history
        if sample.t < history.now:
            # late: its second was judged already; but the source is there, so the next
            # seconds wait for it (a wearable that has never been heard is taken for none)
            history.heard(sample)
            return []
        if sample.t < history.current.t:
            history.add(sample)
        else:
            bisect.insort(self._ahead, sample, key=lambda s: s.t)
        self._newest = max(self._newest, sample.t)
        alerts: list[Alert] = []
        while history.covered() or self._newest - LATENESS >= history.current.t:
            alerts.extend(self._close())
        return alerts

    def advance(self, t: float) -> list[Alert]:
        """Close every second that ended by `t` (a clock tick for a vehicle gone quiet)."""
        alerts: list[Alert] = []
        while self.history.due(t):
            alerts.extend(self._close())
        return alerts

    def _close(self) -> list[Alert]:
        history = self.history
        history.close()
        alerts = self._evaluate()
        if self._calibrating:
            self._alerted = self._alerted or bool(alerts)
            if history.now > history.start + CALIBRATION:
                self._calibrating = False
                if not self._alerted:
                    self.calibrated = awake.learnt(self.detectors)
        while self._ahead and self._ahead[0].t < history.current.t:
            history.add(self._ahead.pop(0))
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
        alerts = [
            Alert.of(f, self.vehicle, self.driver, history.now, location)
            for f in self.policy.admit(findings, history.now)
        ]
        for alert in alerts:
            if alert.category == "medical":
                self._medical = alert
        self._specify(self.policy.absorbed)
        return alerts

    def _specify(self, absorbed: list[Finding]) -> None:
        """A finding of the open medical episode that says more than its alert (a stopped
        heart after a still wheel) updates that alert, once per step up."""
        open_alert = self._medical
        if open_alert is None or not absorbed:
            return
        best = max(absorbed, key=lambda f: specificity(f.type, f.subtype))
        if specificity(best.type, best.subtype) > specificity(open_alert.type, open_alert.subtype):
            self._medical = open_alert.specified(best)
            self.updates.append((open_alert, self._medical))
