"""A conformance report tells the truth about each device whose messages were refused: the
device still sent them (its timing counts them), the refusals are named per device, and the
values that were refused for their type fail the types check."""

from __future__ import annotations

from typing import Any

from dalgu.devices.traffic import MessageEvent
from dalgu.testbed.conformance import Check, ConformanceReport, evaluate
from dalgu.testbed.profile import parse_profile
from tests.testbed.test_conformance import T0, event

PARKING = parse_profile(
    """
name: acme-park
entity_type: ParkingSpot
payload: json
transport: http
interval: 2
jitter: 0.3
measures:
  - {object_id: s, name: status, type: Text, values: [free, occupied, closed, unknown]}
  - {object_id: b, name: batteryLevel, type: Number, unit: P1, min: 0, max: 100}
"""
)


def check(report: ConformanceReport, name: str) -> Check:
    return next(c for c in report.checks if c.name == name)


def refused(device: str, at: float, values: dict[str, Any], kind: str, detail: str) -> MessageEvent:
    return event(device, at, values, stored=None, error=kind, detail=detail)


def every_two_seconds_with_three_refused() -> list[MessageEvent]:
    """ps-005 sends every 2 s for 22 s; its messages 3 to 5 carry `"b": "high"` (refused)."""
    out = []
    for n in range(11):
        if 2 <= n <= 4:
            out.append(
                refused("ps-005", T0 + 2 * n, {"b": "high"}, "BadRequestData", "b: not a number")
            )
        else:
            out.append(event("ps-005", T0 + 2 * n, {"s": "free", "b": 80}))
    return out


def test_a_device_whose_messages_were_refused_is_not_called_silent() -> None:
    """docs/testbed.md: gaps "passes when no device is silent for more than twice the
    interval", and a run "records every message sent with the API key (stored or refused)":
    a device that sent on time, some messages refused, was never silent, and kept its rate."""
    report = evaluate(PARKING, "k", every_two_seconds_with_three_refused(), T0, T0 + 22)
    assert check(report, "gaps").verdict == "pass", check(report, "gaps").examples
    assert check(report, "rate").verdict == "pass", check(report, "rate").examples
    assert check(report, "jitter").verdict == "pass", check(report, "jitter").summary
    assert check(report, "jitter").figures["interval_p99_s"] < 2.1
    assert check(report, "accepted").verdict == "fail"


def test_a_device_that_sent_nothing_for_a_while_is_still_silent() -> None:
    """The refused messages count as sent; a real silence still fails gaps."""
    events = [e for e in every_two_seconds_with_three_refused() if not 4 <= e.received - T0 <= 9]
    gaps = check(evaluate(PARKING, "k", events, T0, T0 + 22), "gaps")
    assert gaps.verdict == "fail" and gaps.examples == ["ps-005: silent for 8.0 s"]
