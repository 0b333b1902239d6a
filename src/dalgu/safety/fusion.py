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

And sooner when the episode is a lone kind of finding (round 16): a medical finding of a kind
(type and subtype) the episode has not had, `BREAK` seconds or more after its last finding, is
a new alert while every finding of the episode so far was of one kind. A false finding comes
alone (a loose band's asystole, the band's arrhythmia on a sinus rhythm), and a real emergency
21-46 s after one was swallowed by its minute. Over whole tuning drives a finding of a new kind
came at most 16 s after the last one inside one emergency (1005: an `unconfirmed` finding as the
band went, then the slump), and no false finding had another kind after it within the hold, so
the break raises nothing there; an episode of two kinds already is corroborated, and keeps the
minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dalgu.safety.detectors.base import Finding, Severity

HOLD = {"drowsiness": 120.0, "medical": 300.0}  # s after a category's last finding
# (round 14) s without a medical finding after which the next raises a new medical alert; the
# driver still counts as under a medical alert (no drowsiness alert) for the whole hold
REARM = {"medical": 60.0}
# (round 16) s without a medical finding after which one of a kind the episode has not had
# raises a new alert, while the episode so far is of one kind
BREAK = {"medical": 20.0}
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
    break_after: dict[str, float] = field(default_factory=lambda: dict(BREAK))
    _alerted: dict[str, float] = field(default_factory=dict)  # when the episode's alert was
    _last: dict[str, float] = field(default_factory=dict)  # the last finding, per category
    # the strength that raised the episode's alert; None once the episode has escalated
    _raised_at: dict[str, float | None] = field(default_factory=dict)
    _kinds: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # the episode's kinds
    _drowsy_at: float | None = None
    # the medical findings of the last `admit` that raised nothing: part of the open episode
    # (the live service may tell the open alert about a more specific one; nothing else reads it)
    absorbed: list[Finding] = field(default_factory=list)

    def admit(self, findings: list[Finding], now: float) -> list[Finding]:
        """The findings that raise a new alert now (at most one per category)."""
        raised: list[Finding] = []
        self.absorbed = []
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
        by_category: dict[str, list[Finding]] = {}
        for finding in sorted(findings, key=lambda f: -f.confidence):
            by_category.setdefault(category(finding), []).append(finding)
        for kind, group in by_category.items():
            last = self._last.get(kind)
            self._last[kind] = now
            kinds = {(f.type, f.subtype) for f in group}
            other = self._other_kind(kind, group, last, now)
            if last is None or now - last >= self.rearm.get(kind, self.hold[kind]):
                other = group[0]
            if other is not None:
                self._raised_at[kind] = other.strength
                self._alerted[kind] = now
                self._kinds[kind] = kinds
                raised.append(other)
                if kind == "medical":
                    self.absorbed += [f for f in group if f is not other]
                continue
            if kind == "medical":
                self.absorbed += group
            self._kinds.setdefault(kind, set()).update(kinds)
            if self._escalates(kind, group[0], now):
                self._raised_at[kind] = None
                raised.append(_escalated(group[0]))
        return raised

    def _other_kind(
        self, kind: str, group: list[Finding], last: float | None, now: float
    ) -> Finding | None:
        """The finding of a kind the episode has not had, when the episode so far is of one
        kind and has been quiet for `break_after` (round 16); else None."""
        after = self.break_after.get(kind)
        episode = self._kinds.get(kind, set())
        if after is None or last is None or now - last < after or len(episode) != 1:
            return None
        return next((f for f in group if (f.type, f.subtype) not in episode), None)

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
