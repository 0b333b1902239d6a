"""Device times in conformance runs: HTTP's `t` is the device's time (latency is measured from
it), and a device time that is no time is flagged."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from dalgu.devices.traffic import MessageEvent
from dalgu.testbed.conformance import evaluate
from tests.testbed.test_conformance import PROFILE, T0, event, stamp

FIRM = {"fiware-service": "firm1"}


def checks(events: list[MessageEvent]) -> dict[str, str]:
    report = evaluate(PROFILE, "k", events, T0, T0 + 10)
    return {c.name: c.verdict for c in report.checks}


def test_a_device_time_that_is_no_time_fails_the_timestamps_check() -> None:
    events = [
        event("d1", T0 + n, {"t": "20"}, groups=(({"t": "20"}, "yesterday"),)) for n in range(10)
    ]
    report = evaluate(PROFILE, "k", events, T0, T0 + 10)
    check = next(c for c in report.checks if c.name == "timestamps")
    assert check.verdict == "fail" and "'yesterday'" in check.examples[0]
    assert report.verdict == "fail"


def test_good_device_times_pass_and_none_at_all_is_not_applicable() -> None:
    assert checks([event("d1", T0 + n, {"t": "20"}) for n in range(10)])["timestamps"] == "pass"
    untimed = [event("d1", T0 + n, {"t": "20"}, groups=(({"t": "20"}, None),)) for n in range(10)]
    assert checks(untimed)["timestamps"] == "n/a"


def watch(client: TestClient) -> list[MessageEvent]:
    seen: list[MessageEvent] = []
    client.app.state.dalgu.devices.traffic.observers.append(seen.append)  # type: ignore[attr-defined]
    return seen


def provision(client: TestClient, resource: str) -> None:
    group = {**PROFILE.to_group("k-time"), "resource": resource}
    created = client.post("/iot/services", json={"services": [group]}, headers=FIRM)
    assert created.status_code == 201, created.text


def test_the_http_t_parameter_is_the_device_time_a_run_judges(client: TestClient) -> None:
    provision(client, "/iot/d")
    seen = watch(client)
    late = time.time() - 30
    sent = client.post(
        "/iot/d", params={"k": "k-time", "i": "d1", "t": stamp(late)}, content=b"t|20"
    )
    assert sent.status_code == 200, sent.text
    assert seen[-1].groups == (({"t": 20}, stamp(late)),)
    report = evaluate(PROFILE, "k-time", seen, late - 1, time.time() + 1)
    latency = next(c for c in report.checks if c.name == "latency")
    assert latency.verdict == "fail" and latency.figures["p99_s"] >= 29


def test_a_json_time_instant_that_is_no_time_is_kept_for_the_run_to_flag(
    client: TestClient,
) -> None:
    provision(client, "/iot/json")
    seen = watch(client)
    sent = client.post("/iot/json?k=k-time&i=d1", json={"t": 20, "TimeInstant": "yesterday"})
    assert sent.status_code == 200, sent.text  # stored, observed at its arrival
    report = evaluate(PROFILE, "k-time", seen, time.time() - 1, time.time() + 1)
    assert {c.name: c.verdict for c in report.checks}["timestamps"] == "fail"


def test_an_ultralight_time_instant_measure_is_the_device_time(client: TestClient) -> None:
    provision(client, "/iot/d")
    seen = watch(client)
    sent = client.post("/iot/d?k=k-time&i=d1", content=b"t|20|TimeInstant|yesterday")
    assert sent.status_code == 200, sent.text
    assert seen[-1].groups == (({"t": 20}, "yesterday"),)
