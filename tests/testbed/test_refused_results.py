"""Command results the gateway refuses (a second answer, a command the device does not have)
are the device's refused messages in a run's report, and fail its commands check."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from dalgu.testbed.conformance import Check, evaluate
from dalgu.testbed.profile import parse_profile
from tests.testbed.test_conformance import T0, event

BELL = parse_profile(
    """
name: bell
entity_type: Bell
interval: 0.2
jitter: 0.9
measures:
  - {object_id: v, name: volume, type: Number, min: 0, max: 10}
commands:
  - {name: ring, value: 1}
"""
)


def test_a_refused_result_fails_the_commands_check_and_names_the_device() -> None:
    """docs/testbed.md: a run "records every message sent with the API key (stored or
    refused)"; a device answering a command it does not have passed."""
    good = [event("cd2-wrong", T0 + n * 0.2, {"v": "1"}) for n in range(10)]
    wrong = event(
        "cd2-wrong",
        T0 + 1,
        {},
        groups=(),
        stored=None,
        error="BadRequestData",
        detail="'explode' is not a command of device 'cd2-wrong'",
        kind="result",
    )
    answered = Check("commands", "pass", "1 of 1 commands answered OK")
    report = evaluate(BELL, "k", [*good, wrong], T0, T0 + 2, extra=[answered])
    commands = next(c for c in report.checks if c.name == "commands")
    assert commands.verdict == "fail" and "explode" in commands.examples[0]
    assert report.refused_by_device == {"cd2-wrong": {"BadRequestData": 1}}
    rate = next(c for c in report.checks if c.name == "rate")
    assert rate.verdict == "pass"  # a result is no measure: the device's timing is its own


def test_a_run_records_a_result_for_a_command_the_device_does_not_have(
    client: TestClient,
) -> None:
    firm = {"fiware-service": "firm1"}
    group = {**BELL.to_group("k-bell"), "resource": "/iot/d"}
    assert client.post("/iot/services", json={"services": [group]}, headers=firm).status_code == 201
    device = {"device_id": "cd2-wrong", "apikey": "k-bell", "entity_type": "Bell"}
    assert client.post("/iot/devices", json={"devices": [device]}, headers=firm).status_code == 201
    started = client.post(
        "/testbed/runs",
        json={"profile": BELL.model_dump(mode="json"), "apikey": "k-bell", "duration": 1.2},
        headers=firm,
    )
    assert started.status_code == 201, started.text
    client.post("/iot/d?k=k-bell&i=cd2-wrong", content=b"v|1")
    answer = client.post("/iot/d/commands?k=k-bell&i=cd2-wrong", content=b"cd2-wrong@explode|boom")
    assert answer.status_code == 400, answer.text
    run = f"/testbed/runs/{started.json()['id']}"
    deadline = time.monotonic() + 10
    while (doc := client.get(run, headers=firm).json())["status"] != "finished":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert doc["report"]["refused_by_device"]["cd2-wrong"] == {"BadRequestData": 1}
    commands = next(c for c in doc["report"]["checks"] if c["name"] == "commands")
    assert commands["verdict"] == "fail"
    assert any("explode" in e for e in commands["examples"])
