"""The gaps check counts the silence before a device's first message and after its last, and
says "n/a" (not shown) when the run is too short for its bound."""

from __future__ import annotations

from dalgu.testbed.conformance import Check, evaluate
from dalgu.testbed.profile import parse_profile
from tests.testbed.test_conformance import PROFILE, T0, event

SLOW = parse_profile(
    """
name: parking
entity_type: ParkingSpot
interval: 300
measures:
  - {object_id: s, name: status, type: Text}
"""
)


def gaps(report_checks: list[Check]) -> Check:
    return next(c for c in report_checks if c.name == "gaps")


def test_one_message_in_a_run_of_ten_intervals_fails_gaps() -> None:
    report = evaluate(PROFILE, "k", [event("d1", T0 + 0.5, {"t": "20"})], T0, T0 + 10)
    check = gaps(report.checks)
    assert check.verdict == "fail" and "last 9.5 s" in check.examples[0]
    assert report.verdict == "fail"


def test_silence_after_the_last_message_fails_gaps() -> None:
    events = [event("d1", T0 + n, {"t": "20"}) for n in range(3)]
    report = evaluate(PROFILE, "k", events, T0, T0 + 9)
    assert gaps(report.checks).verdict == "fail" and report.verdict == "fail"


def test_silence_before_the_first_message_fails_gaps() -> None:
    events = [event("d1", T0 + n, {"t": "20"}) for n in range(5, 9)]
    report = evaluate(PROFILE, "k", events, T0, T0 + 9)
    check = gaps(report.checks)
    assert check.verdict == "fail" and "first 5.0 s" in check.examples[0]


def test_a_run_shorter_than_the_gap_bound_shows_nothing_about_gaps() -> None:
    events = [event("p1", T0 + n, {"s": "free"}) for n in range(5)]
    check = gaps(evaluate(SLOW, "k", events, T0, T0 + 5).checks)
    assert check.verdict == "n/a" and check.summary.startswith("not shown")


def test_a_device_sending_throughout_the_run_passes_gaps() -> None:
    events = [event("d1", T0 + n, {"t": "20"}) for n in range(10)]
    assert gaps(evaluate(PROFILE, "k", events, T0, T0 + 10).checks).verdict == "pass"
