"""From findings to alerts: one alert per episode, the strongest evidence first.

A vehicle's detectors may all see the same collapse (a stopped heart, then a still wheel):
the first finding of a category (drowsiness, medical) raises the alert and later findings of
that category within its hold time are the same episode, not new alerts. A still wheel in a
driver found drowsy in the last two minutes is taken for a microsleep (the drowsiness episode,
at critical severity), not for a medical emergency.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dalgu.safety.detectors.base import Finding

HOLD = {"drowsiness": 600.0, "medical": 300.0}
MICROSLEEP = 120.0  # s after a drowsiness finding in which a still wheel is taken for sleep


def category(finding: Finding) -> str:
    return "drowsiness" if finding.type == "drowsiness" else "medical"


@dataclass
class AlertPolicy:
    hold: dict[str, float] = field(default_factory=lambda: dict(HOLD))
    _last: dict[str, float] = field(default_factory=dict)
    _drowsy_at: float | None = None

    def admit(self, findings: list[Finding], now: float) -> list[Finding]:
        """The findings that raise a new alert now (at most one per category)."""
        raised: list[Finding] = []
        seen: set[str] = set()
        drowsy = self._drowsy_at is not None and now - self._drowsy_at <= MICROSLEEP
        findings = [
            _microsleep(f) if drowsy and f.type == "incapacitation" else f for f in findings
        ]
        medical = self._last.get("medical")
        if medical is not None and now - medical < self.hold["medical"]:
            # the driver is already under a medical alert: impaired driving is part of it
            findings = [f for f in findings if f.type != "drowsiness"]
        for finding in sorted(findings, key=lambda f: -f.confidence):
            if finding.type == "drowsiness":
                self._drowsy_at = now
            kind = category(finding)
            if kind in seen:
                continue
            seen.add(kind)
            last = self._last.get(kind)
            self._last[kind] = now
            if last is not None and now - last < self.hold[kind]:
                continue
            raised.append(finding)
        return raised


def _microsleep(finding: Finding) -> Finding:
    return replace(finding, type="drowsiness", subtype="microsleep", severity="critical")
