"""A conformance report tells the truth about each device whose messages were refused: the
device still sent them (its timing counts them), the refusals are named per device, and the
values that were refused for their type fail the types check."""

from __future__ import annotations

import time
from typing import Any

from starlette.testclient import TestClient

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


def with_two_unknown_devices() -> list[MessageEvent]:
    """ps-005 as above, and ps-901, ps-902 (not provisioned) sending alongside, refused."""
    unknown = [
        refused(device, T0 + 2 * n + 0.5, {"s": "free", "b": 80}, "ResourceNotFound", device)
        for n in range(11)
        for device in ("ps-901", "ps-902")
    ]
    return sorted([*unknown, *every_two_seconds_with_three_refused()], key=lambda e: e.received)


def test_each_device_s_refusals_are_named_whatever_the_other_devices_send() -> None:
    """docs/testbed.md: "accepted: every message was stored (none refused: unknown device, bad
    payload, value of the wrong type)"; a firm reads which of its devices was refused, and
    why, even when other devices' refusals outnumber them."""
    report = evaluate(PARKING, "k", with_two_unknown_devices(), T0, T0 + 22)
    assert report.refused_by_device == {
        "ps-005": {"BadRequestData": 3},
        "ps-901": {"ResourceNotFound": 11},
        "ps-902": {"ResourceNotFound": 11},
    }
    accepted = check(report, "accepted")
    assert accepted.verdict == "fail"
    assert "ps-005 3 (3 BadRequestData)" in accepted.summary
    assert [e.split(":")[0] for e in accepted.examples] == ["ps-901", "ps-902", "ps-005"]
    assert "b: not a number" in accepted.examples[2]


def test_a_value_refused_for_its_type_fails_the_types_check() -> None:
    """docs/testbed.md: "types: values parse as their declared type": `"high"` is no Number,
    whether or not the gateway stored the message."""
    report = evaluate(PARKING, "k", every_two_seconds_with_three_refused(), T0, T0 + 22)
    types = check(report, "types")
    assert types.verdict == "fail"
    assert types.examples == ["ps-005: b='high' is not Number (refused: BadRequestData)"]
    assert "(3 in refused messages)" in types.summary


def test_a_chatty_device_does_not_hide_another_device_s_problem() -> None:
    """Examples are distinct and spread over the devices: the device that really repeated a
    timestamp is named even when another repeats one many times."""
    burst = [event("aq-burst", T0 + 1, {"s": "free", "b": 80}) for _ in range(8)]
    dup = [event("aq-dup", T0 + n, {"s": "free", "b": 80}) for n in (1, 2, 2)]
    duplicates = check(evaluate(PARKING, "k", [*burst, *dup], T0, T0 + 4), "duplicates")
    assert duplicates.verdict == "fail"
    assert len(duplicates.examples) == 2 and duplicates.examples[1].startswith("aq-dup: ")
    assert "8 problem(s) from 2 device(s)" in duplicates.summary


def test_a_run_over_http_names_the_device_whose_wrong_types_were_refused(
    client: TestClient,
) -> None:
    """Through the gateway: a value of the wrong type (left out of the update, the message
    taken, as the IoT Agents take it) fails the types check, and a refused message (one that
    is no JSON) is named in the report (JSON and HTML) with its device."""
    firm = {"fiware-service": "acmesense"}
    group = {**PARKING.to_group("k-park"), "resource": "/iot/json"}
    assert client.post("/iot/services", json={"services": [group]}, headers=firm).status_code == 201
    profile = {**PARKING.model_dump(mode="json"), "interval": 0.2}
    started = client.post(
        "/testbed/runs",
        json={"profile": profile, "apikey": "k-park", "duration": 1.5},
        headers=firm,
    )
    assert started.status_code == 201, started.text
    run = f"/testbed/runs/{started.json()['id']}"
    for body in (b'{"s": "free", "b": 80}', b'{"b": "high"}', b'{"s": ', b'{"s": "free", "b": 81}'):
        client.post("/iot/json?k=k-park&i=ps-005", content=body)
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while (doc := client.get(run, headers=firm).json())["status"] != "finished":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    report = doc["report"]
    assert report["refused_by_device"] == {"ps-005": {"BadRequestData": 1}}
    types = next(c for c in report["checks"] if c["name"] == "types")
    assert types["verdict"] == "fail"
    assert types["examples"] == ["ps-005: b='high' is not Number"]
    html = client.get(f"{run}/report.html", headers=firm).text
    assert "Refused messages by device" in html and "<code>ps-005</code></td><td>1</td>" in html


def test_a_text_outside_the_declared_values_is_named_as_such_not_as_a_wrong_type() -> None:
    """docs/testbed.md: "types: values parse as their declared type"; `'parked'` is Text, it
    is outside the measure's `values`, which is what the firm has to fix."""
    events = [event("ps-005", T0 + 2 * n, {"s": "free", "b": 80}) for n in range(10)]
    events += [event("ps-005", T0 + 20, {"s": "parked", "b": 80})]
    report = evaluate(PARKING, "k", events, T0, T0 + 22)
    assert check(report, "types").verdict == "pass"
    ranges = check(report, "ranges")
    assert ranges.verdict == "fail"
    assert ranges.examples == ["ps-005: s='parked' not one of free, occupied, closed, unknown"]


def test_a_number_for_a_text_measure_with_values_is_a_wrong_type() -> None:
    events = [event("ps-005", T0 + 2 * n, {"s": "free", "b": 80}) for n in range(10)]
    events += [event("ps-005", T0 + 20, {"s": 17, "b": 80})]
    report = evaluate(PARKING, "k", events, T0, T0 + 22)
    assert check(report, "types").examples == ["ps-005: s=17 is not Text"]
    assert check(report, "ranges").verdict == "pass"
