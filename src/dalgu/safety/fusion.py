"""From findings to alerts: one alert per episode, the strongest evidence first.

A vehicle's detectors may all see the same collapse (a stopped heart, then a still wheel):
the first finding of a category (drowsiness, medical) raises the alert and later findings of
that category within its hold time are the same episode, not new alerts. A still wheel in a
driver found drowsy in the last two minutes is taken for a microsleep (the drowsiness episode,
at critical severity), not for a medical emergency; and an irregular rhythm under 100 bpm in
that driver is the sinus arrhythmia of slow, deep drowsy breathing, part of the drowsiness,
not atrial fibrillation (on tuning drives 1000-1319, eight false arrhythmias at 68-91 bpm, all
within 8 s of a drowsiness finding; every real one was at 105 bpm or more).

Drowsiness is not a one-off, and its first warning may come on early, weak evidence:

- **Re-arming.** Its hold is two minutes from the last finding (it was ten): findings that
  stopped for two minutes and start again are a new episode, and warn again. A driver warned
  on a weak early sign, who then looked alert for minutes, is warned when the sleepiness
  returns, instead of the first warning's hold swallowing the real episode.
- **Escalation.** Within an episode, a finding whose evidence (`Finding.strength`, the model's
  log-odds) has grown `ESCALATE` above what raised the alert warns once more, at high
  severity: the driver was warned and is now clearly drowsier. Not sooner than
  `ESCALATE_AFTER` after the alert: the log-odds grow fast as an episode deepens, and a
  second warning 10-20 s after the first tells the driver nothing new (round 7 found
  escalations a median of 40 s after the first warning).

A medical alert re-arms too (round 14): a medical finding after `REARM` seconds without any is
a new alert, while the driver still counts as under the medical alert (no drowsiness warning)
for the whole hold. On tuning drive 1205 a loose band's lone false asystole held the alert for
five minutes, and a tachycardia 64 s later was never raised; on the tuning drives 1000-1319 the
longest silence between two medical findings inside one emergency (5 s before its onset to a
minute after its end) was 49 s, so a minute re-arms no real emergency twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dalgu.safety.detectors.base import Finding, Severity

HOLD = {"drowsiness": 120.0, "medical": 300.0}  # s after a category's last finding
# (round 14) s without a medical finding after which the next raises a new medical alert; the
# driver still counts as under a medical alert (no drowsiness alert) for the whole hold
REARM = {"medical": 60.0}
ESCALATE = {"drowsiness": 2.0}  # strength above the alert's that warns once more
ESCALATE_AFTER = {"drowsiness": 120.0}  # s after the alert before it may escalate
MICROSLEEP = 120.0  # s after a drowsiness finding in which a still wheel is taken for sleep
SINUS_BELOW = 100.0  # bpm: an irregular rhythm slower than this in a drowsy driver is sinus


def category(finding: Finding) -> str:
    return "drowsiness" if finding.type == "drowsiness" else "medical"


@dataclass
class AlertPolicy:
    hold: dict[str, float] = field(default_factory=lambda: dict(HOLD))
    escalate: dict[str, float] = field(default_factory=lambda: dict(ESCALATE))
    escalate_after: dict[str, float] = field(default_factory=lambda: dict(ESCALATE_AFTER))
    rearm: dict[str, float] = field(default_factory=lambda: dict(REARM))
    _alerted: dict[str, float] = field(default_factory=dict)  # when the episode's alert was
    _last: dict[str, float] = field(default_factory=dict)  # the last finding, per category
    # the strength that raised the episode's alert; None once the episode has escalated
    _raised_at: dict[str, float | None] = field(default_factory=dict)
    _drowsy_at: float | None = None

    def admit(self, findings: list[Finding], now: float) -> list[Finding]:
        """The findings that raise a new alert now (at most one per category)."""
        raised: list[Finding] = []
        seen: set[str] = set()
        drowsy = self._drowsy_at is not None and now - self._drowsy_at <= MICROSLEEP
        findings = [
            _microsleep(f) if drowsy and f.type == "incapacitation" else f
            for f in findings
            if not (drowsy and _slow_irregular(f))
        ]
        if any(f.type == "drowsiness" for f in findings):
            self._drowsy_at = now  # even under a medical alert: a later still wheel is sleep
        medical = self._last.get("medical")
        if medical is not None and now - medical < self.hold["medical"]:
            # the driver is already under a medical alert: impaired driving is part of it
            findings = [f for f in findings if f.type != "drowsiness"]
        for finding in sorted(findings, key=lambda f: -f.confidence):
            kind = category(finding)
            if kind in seen:
                continue
            seen.add(kind)
            last = self._last.get(kind)
            self._last[kind] = now
            if last is None or now - last >= self.rearm.get(kind, self.hold[kind]):
                self._raised_at[kind] = finding.strength
                self._alerted[kind] = now
                raised.append(finding)
            elif self._escalates(kind, finding, now):
                self._raised_at[kind] = None
                raised.append(_escalated(finding))
        return raised

    def _escalates(self, kind: str, finding: Finding, now: float) -> bool:
        """Whether a finding within the episode's hold is well beyond what raised its alert,
        long enough after it."""
        step = self.escalate.get(kind)
        before = self._raised_at.get(kind)
        return (
            step is not None
            and before is not None
            and finding.strength is not None
            and finding.strength >= before + step
            and now - self._alerted.get(kind, now) >= self.escalate_after.get(kind, 0.0)
        )


def _slow_irregular(finding: Finding) -> bool:
    """An arrhythmia finding at a rate under `SINUS_BELOW`."""
    rate = finding.evidence.get("heartRate")
    return finding.subtype == "arrhythmia" and isinstance(rate, int | float) and rate < SINUS_BELOW


def _microsleep(finding: Finding) -> Finding:
    return replace(finding, type="drowsiness", subtype="microsleep", severity="critical")


def _escalated(finding: Finding) -> Finding:
    severity: Severity = "critical" if finding.severity == "critical" else "high"
    return replace(finding, severity=severity, evidence={**finding.evidence, "escalated": True})
