"""A device sending its measures one by one (`/<apikey>/<device>/attrs/<attr>`) is judged by
its readings: each burst of single measures is one reading, complete when together they carry
every required measure."""

from __future__ import annotations

from typing import Any

from dalgu.devices.traffic import MessageEvent
from dalgu.testbed.conformance import evaluate
from dalgu.testbed.profile import parse_profile
from tests.testbed.test_conformance import T0, event

AIR = parse_profile(
    """
name: acme-air
entity_type: AirQualityObserved
interval: 2
jitter: 0.2
measures:
  - {object_id: p10, name: pm10, type: Number, min: 0, max: 1000}
  - {object_id: p25, name: pm25, type: Number, min: 0, max: 1000}
  - {object_id: t, name: temperature, type: Number, min: -30, max: 50}
"""
)


def single(device: str, at: float, name: str, value: str) -> MessageEvent:
    return event(device, at, {name: value}, groups=(({name: value}, None),))


def one_by_one(readings: int, **skip: Any) -> list[MessageEvent]:
    out = []
    for n in range(readings):
        for k, name in enumerate(("p10", "p25", "t")):
            if skip.get("missing") == (n, name):
                continue
            out.append(single("aq-single", T0 + 2 * n + 0.005 * k, name, "14"))
    return out


def test_a_device_sending_measure_by_measure_passes() -> None:
    """docs/testbed.md lists `/<apikey>/<device>/attrs/<attr>` among the MQTT topics: a
    device using it on time, every measure sent, is conforming (it failed schema, rate and
    jitter: each message was judged as a whole reading)."""
    report = evaluate(AIR, "k", one_by_one(7), T0, T0 + 14)
    checks = {c.name: c for c in report.checks}
    for name in ("schema", "rate", "jitter", "gaps"):
        assert checks[name].verdict == "pass", (name, checks[name].summary, checks[name].examples)


def test_a_reading_that_lacks_a_measure_still_fails_schema() -> None:
    report = evaluate(AIR, "k", one_by_one(7, missing=(3, "p25")), T0, T0 + 14)
    schema = next(c for c in report.checks if c.name == "schema")
    assert schema.verdict == "fail" and schema.examples == ["aq-single: missing p25"]


def test_whole_messages_sent_too_fast_still_fail_rate() -> None:
    fast = [event("d3", T0 + n * 0.1, {"p10": "1", "p25": "1", "t": "1"}) for n in range(30)]
    checks = {c.name: c.verdict for c in evaluate(AIR, "k", fast, T0, T0 + 3).checks}
    assert checks["rate"] == "fail" and checks["jitter"] == "fail"
