"""The alert policy (`dalgu.safety.fusion`): one alert per episode, and a drowsy driver who is
still drowsy later, or drowsier, is warned again."""

from __future__ import annotations

from dalgu.safety.detectors.base import Finding
from dalgu.safety.fusion import AlertPolicy


def drowsy(strength: float = 1.5) -> Finding:
    return Finding("drowsiness", "drowsy-driving", "medium", 0.8, 0.0, {}, strength=strength)


def still_wheel() -> Finding:
    return Finding("incapacitation", "no-steering-input", "critical", 0.9, 0.0)


def replay(
    policy: AlertPolicy, findings: dict[float, list[Finding]]
) -> list[tuple[float, Finding]]:
    return [(t, f) for t in sorted(findings) for f in policy.admit(findings[t], t)]


def test_findings_that_keep_coming_are_one_episode() -> None:
    alerts = replay(AlertPolicy(), {700.0 + 10 * i: [drowsy()] for i in range(60)})
    assert [t for t, _ in alerts] == [700.0]


def test_drowsiness_that_stopped_for_two_minutes_and_returns_is_warned_again() -> None:
    # an early warning on weak evidence, minutes of an alert-looking driver, then the real
    # episode: the first warning's hold (ten minutes before) swallowed it
    findings = {700.0 + 10 * i: [drowsy()] for i in range(4)}  # 700-730
    findings |= {1000.0 + 10 * i: [drowsy()] for i in range(10)}  # 1000-1090
    alerts = replay(AlertPolicy(), findings)
    assert [t for t, _ in alerts] == [700.0, 1000.0]


def test_a_gap_shorter_than_the_hold_is_the_same_episode() -> None:
    findings = {700.0: [drowsy()], 800.0: [drowsy()]}  # 100 s apart
    assert [t for t, _ in replay(AlertPolicy(), findings)] == [700.0]


def test_evidence_grown_well_beyond_the_alerts_escalates_once() -> None:
    strengths = [1.5, 2.0, 3.0, 3.4] + [3.6] * 10 + [4.5, 6.0, 7.0]
    findings = {700.0 + 10 * i: [drowsy(s)] for i, s in enumerate(strengths)}
    alerts = replay(AlertPolicy(), findings)
    assert [t for t, _ in alerts] == [700.0, 820.0]  # 3.6 >= 1.5 + 2, then never again
    escalated = alerts[1][1]
    assert escalated.severity == "high" and escalated.evidence["escalated"] is True
    assert "escalated" not in alerts[0][1].evidence


def test_an_escalation_waits_two_minutes_after_the_first_warning() -> None:
    # the evidence is far stronger 20 s after the warning: a second warning then says nothing
    strengths = [1.5, 6.0, 6.0] + [1.6] * 9 + [4.0]
    findings = {700.0 + 10 * i: [drowsy(s)] for i, s in enumerate(strengths)}
    alerts = replay(AlertPolicy(), findings)
    assert [t for t, _ in alerts] == [700.0, 820.0]


def test_medical_alerts_do_not_escalate_or_rearm_within_their_hold() -> None:
    findings = {1000.0 + 20 * i: [still_wheel()] for i in range(10)}
    alerts = replay(AlertPolicy(), findings)
    assert [(t, f.type) for t, f in alerts] == [(1000.0, "incapacitation")]


def test_a_still_wheel_of_a_driver_found_drowsy_during_a_medical_alert_is_not_a_new_emergency() -> (
    None
):
    # a still wheel raised a medical alert; the driver steered on, found drowsy every 10 s;
    # a second still wheel in that drowsiness is a microsleep: it must not extend the medical
    # alert's hold over the drowsiness, which is warned once that hold is over
    findings: dict[float, list[Finding]] = {1000.0: [still_wheel()]}
    findings |= {1010.0 + 10 * i: [drowsy()] for i in range(40)}  # 1010-1400
    findings[1250.0].append(still_wheel())
    alerts = replay(AlertPolicy(), findings)
    assert [(t, f.type) for t, f in alerts] == [(1000.0, "incapacitation"), (1300.0, "drowsiness")]


def arrhythmia(rate: float) -> Finding:
    return Finding("cardiac", "arrhythmia", "high", 0.9, 0.0, {"heartRate": rate, "beats": 13})


def test_a_slow_irregular_rhythm_in_a_drowsy_driver_is_sinus_arrhythmia_not_an_emergency() -> None:
    findings = {1000.0 + 10 * i: [drowsy()] for i in range(10)}  # 1000-1090
    findings[1095.0] = [arrhythmia(82.0)]
    alerts = replay(AlertPolicy(), findings)
    assert [(t, f.type) for t, f in alerts] == [(1000.0, "drowsiness")]


def test_a_fast_irregular_rhythm_when_drowsy_or_a_slow_one_when_alert_is_raised() -> None:
    findings = {1000.0 + 10 * i: [drowsy()] for i in range(10)}
    findings[1095.0] = [arrhythmia(118.0)]
    alerts = replay(AlertPolicy(), findings)
    assert [(t, f.subtype) for t, f in alerts] == [
        (1000.0, "drowsy-driving"),
        (1095.0, "arrhythmia"),
    ]
    # no drowsiness found in the last two minutes: a slow irregular rhythm is raised
    alerts = replay(AlertPolicy(), {1000.0: [drowsy()], 1200.0: [arrhythmia(82.0)]})
    assert [(t, f.subtype) for t, f in alerts] == [
        (1000.0, "drowsy-driving"),
        (1200.0, "arrhythmia"),
    ]


def band_asystole() -> Finding:
    return Finding("cardiac", "asystole", "critical", 0.75, 0.0, {"signalQuality": 0.32})


def wheel_tachycardia() -> Finding:
    return Finding("cardiac", "tachycardia", "critical", 0.8, 0.0, {"sensor": "wheel"})


def test_a_medical_finding_after_a_quiet_minute_is_a_new_alert() -> None:
    # a lone finding (a loose band's false asystole), then a real emergency 64 s later: the
    # first alert's five-minute hold swallowed it (tuning drive 1205, round 14)
    findings = {1000.0: [band_asystole()]}
    findings |= {1064.0 + i: [wheel_tachycardia()] for i in range(20)}
    alerts = replay(AlertPolicy(), findings)
    assert [(t, f.subtype) for t, f in alerts] == [(1000.0, "asystole"), (1064.0, "tachycardia")]


def test_a_driver_under_a_medical_alert_is_not_warned_of_drowsiness_for_five_minutes() -> None:
    # the medical alert re-arms after a quiet minute, but the driver stays under it for the
    # whole hold: impaired driving after an emergency is part of it, not drowsiness
    findings: dict[float, list[Finding]] = {1000.0: [still_wheel()], 1200.0: [drowsy()]}
    alerts = replay(AlertPolicy(), findings)
    assert [(t, f.type) for t, f in alerts] == [(1000.0, "incapacitation")]
