"""A run that could not judge a device's timing is no PASS: its verdict is "incomplete"."""

from __future__ import annotations

from dalgu.testbed.conformance import evaluate
from dalgu.testbed.profile import parse_profile
from dalgu.testbed.report_html import render_report
from tests.testbed.test_conformance import PROFILE, T0, event

HOURLY = parse_profile(
    """
name: air
entity_type: AirQualityObserved
interval: 60
measures:
  - {object_id: t, name: temperature, type: Number, min: -30, max: 50}
"""
)


def test_one_good_message_in_a_run_shorter_than_the_interval_is_incomplete() -> None:
    """docs/testbed.md: a check whose bound the run is too short to show is `n/a`; a
    certification whose rate, jitter and gaps never ran is not a PASS (the CLI exits 0 only
    on PASS)."""
    report = evaluate(HOURLY, "k", [event("aq-1", T0 + 1, {"t": "20"})], T0, T0 + 6)
    assert report.verdict == "incomplete"
    assert report.not_shown == ["rate", "jitter", "gaps"]
    html = render_report({"verdict": report.verdict, "report": report.to_json()})
    assert "INCOMPLETE" in html and "rate, jitter, gaps" in html


def test_a_failed_check_makes_an_incomplete_run_fail() -> None:
    report = evaluate(HOURLY, "k", [event("aq-1", T0 + 1, {"t": "99"})], T0, T0 + 6)
    assert report.verdict == "fail"


def test_a_run_that_shows_everything_passes() -> None:
    events = [event("d1", T0 + n, {"t": "20"}) for n in range(10)]
    report = evaluate(PROFILE, "k", events, T0, T0 + 10)
    assert report.verdict == "pass" and report.not_shown == []
