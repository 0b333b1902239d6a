"""Conformance checks of recorded device messages against their profile, and runs over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from dalgu.cli.app import app as cli
from dalgu.cli.testbed import parse_duration
from dalgu.devices.traffic import MessageEvent
from dalgu.testbed.conformance import evaluate
from dalgu.testbed.profile import parse_profile
from tests.ports import free_port

PROFILE = parse_profile(
    """
name: thermo
entity_type: Thermometer
interval: 1
jitter: 0.2
measures:
  - {object_id: t, name: temperature, type: Number, unit: CEL, min: -20, max: 50}
  - {object_id: b, name: battery, type: Integer, min: 0, max: 100, required: false}
"""
)
T0 = 1_800_000_000.0


def stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(device: str, at: float, values: dict[str, Any], **extra: Any) -> MessageEvent:
    fields: dict[str, Any] = {
        "apikey": "k",
        "device_id": device,
        "transport": "mqtt",
        "received": at + 0.01,
        "stored": at + 0.02,
        "groups": ((values, stamp(at)),),
    }
    fields.update(extra)
    return MessageEvent(**fields)


def verdicts(events: list[MessageEvent]) -> dict[str, str]:
    report = evaluate(PROFILE, "k", events, T0, T0 + 60)
    return {check.name: check.verdict for check in report.checks}


def test_a_well_behaved_device_passes_every_check() -> None:
    events = [event("d1", T0 + n, {"t": "21.5", "b": "90"}) for n in range(30)]
    report = evaluate(PROFILE, "k", events, T0, T0 + 30)
    assert report.verdict == "pass", [(c.name, c.summary) for c in report.checks]
    assert {c.name for c in report.checks} == {
        "accepted",
        "schema",
        "types",
        "ranges",
        "rate",
        "jitter",
        "gaps",
        "duplicates",
        "order",
        "latency",
        "timestamps",
    }
    latency = next(c for c in report.checks if c.name == "latency")
    assert 0.019 < latency.figures["p50_s"] < 0.021


def test_each_kind_of_misbehaviour_fails_its_check() -> None:
    good = [event("d1", T0 + n, {"t": "20"}) for n in range(10)]
    assert verdicts([*good, event("d1", T0 + 10, {"t": "99"})])["ranges"] == "fail"
    assert verdicts([*good, event("d1", T0 + 10, {"t": "warm"})])["types"] == "fail"
    assert verdicts([*good, event("d1", T0 + 10, {"t": "1", "x": "2"})])["schema"] == "fail"
    assert verdicts([*good, event("d1", T0 + 10, {"b": "5"})])["schema"] == "fail"
    assert verdicts([*good, event("d1", T0 + 15, {"t": "1"})])["gaps"] == "fail"
    assert verdicts([*good, event("d1", T0 + 9, {"t": "1"})])["duplicates"] == "fail"
    late = event("d1", T0 + 3, {"t": "1"}, received=T0 + 10.01, stored=T0 + 10.02)
    assert verdicts([*good, late])["order"] == "fail"
    skewed = [event("d2", T0 + n + 5, {"t": "1"}, received=T0 + n, stored=T0 + n) for n in range(5)]
    assert verdicts(skewed)["latency"] == "fail"
    fast = [event("d3", T0 + n * 0.1, {"t": "1"}) for n in range(30)]
    assert verdicts(fast)["rate"] == "fail" and verdicts(fast)["jitter"] == "fail"
    refused = event("d1", T0 + 10, {}, stored=None, error="BadRequestData", detail="garbled")
    report = evaluate(PROFILE, "k", [*good, refused], T0, T0 + 11)
    assert report.verdict == "fail" and report.refused == {"BadRequestData": 1}
    assert "garbled" in next(c for c in report.checks if c.name == "accepted").examples[0]


def test_no_messages_is_no_verdict() -> None:
    report = evaluate(PROFILE, "k", [], T0, T0 + 60)
    assert report.verdict == "n/a"
    assert {c.verdict for c in report.checks} == {"n/a"}


SANDBOX = {"fiware-service": "firm1"}


def test_a_conformance_run_over_http(client: TestClient) -> None:
    group = PROFILE.to_group("k-thermo")
    assert (
        client.post("/iot/services", json={"services": [group]}, headers=SANDBOX).status_code == 201
    )
    profile_text = (
        "name: thermo\nentity_type: Thermometer\ninterval: 0.1\njitter: 0.9\n"
        "measures:\n  - {object_id: t, name: temperature, type: Number, min: -20, max: 50}\n"
    )
    started = client.post(
        "/testbed/runs",
        json={"profile": profile_text, "apikey": "k-thermo", "duration": 2.5},
        headers=SANDBOX,
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    assert started.headers["location"] == f"/testbed/runs/{run_id}"
    for n in range(8):
        now = stamp(time.time())
        client.post(f"/iot/d?k=k-thermo&i=th{n % 2}", content=f"{now}|t|{20 + n}".encode())
        time.sleep(0.1)
    client.post("/iot/d?k=k-thermo&i=th0", content=f"{stamp(time.time())}|t|80".encode())
    client.post("/iot/d?k=k-thermo&i=th0", content=b"t")
    running = client.get(f"/testbed/runs/{run_id}", headers=SANDBOX).json()
    assert running["status"] in ("running", "finished")
    deadline = time.monotonic() + 10
    while (doc := client.get(f"/testbed/runs/{run_id}", headers=SANDBOX).json())[
        "status"
    ] != "finished":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    checks = {c["name"]: c["verdict"] for c in doc["report"]["checks"]}
    assert doc["verdict"] == "fail"
    assert checks["ranges"] == "fail" and checks["accepted"] == "fail"
    assert checks["types"] == "pass" and checks["schema"] == "pass"
    assert doc["report"]["devices"] == 2 and doc["messages"] == 10
    html = client.get(f"/testbed/runs/{run_id}/report.html", headers=SANDBOX)
    assert html.status_code == 200 and "FAIL" in html.text and "outside [-20.0, 50.0]" in html.text
    listed = client.get("/testbed/runs", headers=SANDBOX).json()
    assert [r["id"] for r in listed] == [run_id] and "report" not in listed[0]
    # another sandbox sees nothing and cannot watch this one's devices
    other = {"fiware-service": "firm2"}
    assert client.get(f"/testbed/runs/{run_id}", headers=other).status_code == 404
    assert client.get("/testbed/runs", headers=other).json() == []
    spy = client.post(
        "/testbed/runs",
        json={"profile": "air-quality", "apikey": "k-thermo", "duration": 1},
        headers=other,
    )
    assert spy.status_code == 404
    bad = client.post(
        "/testbed/runs",
        json={"profile": "air-quality", "apikey": "k-thermo", "duration": -1},
        headers=SANDBOX,
    )
    assert bad.status_code == 400


@pytest.mark.slow
def test_testbed_run_command_line(tmp_path: Any) -> None:
    """`dalgu testbed run` against a real server process, with a fleet sending meanwhile."""

    assert parse_duration("90") == 90 and parse_duration("10m") == 600
    assert parse_duration("1.5h") == 5400

    api, north, south = free_port(), free_port(), free_port()
    env = {
        "DALGU_SQLITE_PATH": str(tmp_path / "t.db"),
        "DALGU_PORT": str(api),
        "DALGU_IOT_NORTH_PORT": str(north),
        "DALGU_IOT_SOUTH_PORT": str(south),
        "DALGU_COAP_PORT": "0",
        "DALGU_MQTT_BROKER": "off",
    }

    server = subprocess.Popen(
        [sys.executable, "-m", "dalgu", "serve"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{north}/iot/about").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        runner = CliRunner()
        provision = runner.invoke(
            cli,
            [
                "simulate",
                "-p",
                "parking-spot",
                "--devices",
                "2",
                "--rate",
                "1",
                "--duration",
                "0.1",
                "--transport",
                "http",
                "--apikey",
                "park",
                "--http-port",
                str(south),
                "--north-port",
                str(north),
            ],
        )
        assert provision.exit_code == 0, provision.output

        def fleet() -> None:
            time.sleep(0.5)
            CliRunner().invoke(
                cli,
                [
                    "simulate",
                    "-p",
                    "parking-spot",
                    "--devices",
                    "2",
                    "--rate",
                    "10",
                    "--duration",
                    "1.5",
                    "--transport",
                    "http",
                    "--apikey",
                    "park",
                    "--http-port",
                    str(south),
                    "--no-provision",
                ],
            )

        sender = threading.Thread(target=fleet)
        sender.start()
        html = tmp_path / "report.html"
        result = runner.invoke(
            cli,
            [
                "testbed",
                "run",
                "-p",
                "parking-spot",
                "--apikey",
                "park",
                "--duration",
                "3s",
                "--url",
                f"http://127.0.0.1:{north}",
                "--html",
                str(html),
            ],
        )
        sender.join()
        # parking sensors report every 300 s: 10 messages/s fails the rate check
        assert result.exit_code == 1, result.output
        assert "rate" in result.output and "FAIL" in result.output
        assert "Conformance run" in html.read_text()
        unknown = runner.invoke(
            cli,
            [
                "testbed",
                "run",
                "-p",
                "parking-spot",
                "--apikey",
                "nope",
                "--duration",
                "1s",
                "--url",
                f"http://127.0.0.1:{north}",
            ],
        )
        assert unknown.exit_code == 2 and "no config group" in unknown.output
    finally:
        server.terminate()
        server.wait(10)
