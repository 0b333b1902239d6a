"""Command round trips in conformance runs: each declared command sent, its answer timed."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid

import aiomqtt
import pytest
from starlette.testclient import TestClient

from dalgu.testbed.profile import parse_profile
from dalgu.testbed.roundtrips import CommandTrip, command_check

PROFILE_TEXT = """
name: bell
entity_type: Bell
interval: 0.2
jitter: 0.9
command_deadline: 1
commands:
  - {name: ring, value: {volume: 2}}
measures:
  - {object_id: t, name: temperature, type: Number}
"""
PROFILE = parse_profile(PROFILE_TEXT)


def test_command_check_verdicts() -> None:
    on_time = CommandTrip("d1", "ring", 100.0, 100.3, "OK")
    late = CommandTrip("d2", "ring", 100.0, 102.5, "OK")
    failed = CommandTrip("d3", "ring", 100.0, 100.1, "ERROR", "the device did not answer")
    silent = CommandTrip("d4", "ring", 100.0)
    assert command_check(PROFILE, [on_time]).verdict == "pass"
    assert command_check(PROFILE, [on_time]).figures["p50_s"] == pytest.approx(0.3)
    check = command_check(PROFILE, [on_time, late, failed, silent])
    assert check.verdict == "fail"
    assert check.figures == pytest.approx({"sent": 4, "answered": 2, "p50_s": 2.5, "p99_s": 2.5})
    assert any("after 2.50 s" in e for e in check.examples)
    assert any("did not answer" in e for e in check.examples)
    assert any("d4: ring not answered" in e for e in check.examples)
    assert command_check(PROFILE, []).verdict == "n/a"
    no_commands = PROFILE.model_copy(update={"commands": []})
    assert command_check(no_commands, [on_time]).verdict == "n/a"


class _Bell:
    """An MQTT device that executes `ring` and answers on /cmdexe."""

    def __init__(self, port: int, apikey: str, device: str) -> None:
        self.commands: list[bytes] = []
        self.ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            async with aiomqtt.Client("127.0.0.1", port, identifier=f"bell-{apikey}") as c:
                await c.subscribe(f"/{apikey}/{device}/cmd", qos=1)
                self.ready.set()
                async for message in c.messages:
                    assert isinstance(message.payload, bytes)
                    self.commands.append(message.payload)
                    await c.publish(f"/{apikey}/{device}/cmdexe", f"{device}@ring|rang", qos=1)

        self._task = self._loop.create_task(serve())

        def run() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                self._loop.run_until_complete(self._task)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._task.cancel)
        self.thread.join(30)  # a loaded machine's broker may take seconds to let go
        assert not self.thread.is_alive(), "the device's MQTT client did not disconnect"
        self._loop.close()


def test_a_run_sends_each_command_and_reports_the_round_trips(
    gateway: tuple[TestClient, int],
) -> None:
    client, port = gateway
    apikey = f"k{uuid.uuid4().hex[:8]}"
    sandbox = {"fiware-service": "firm1"}
    group = PROFILE.to_group(apikey)
    assert group["commands"] == [{"name": "ring", "type": "command"}]
    assert client.post("/iot/services", json={"services": [group]}, headers=sandbox).status_code
    bell = _Bell(port, apikey, "b0")  # answers; b1 never does
    try:
        started = client.post(
            "/testbed/runs",
            json={"profile": PROFILE_TEXT, "apikey": apikey, "duration": 2.5},
            headers=sandbox,
        )
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        for _ in range(10):
            for device in ("b0", "b1"):
                client.post(f"/iot/d?k={apikey}&i={device}", content=b"t|20")
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while (doc := client.get(f"/testbed/runs/{run_id}", headers=sandbox).json())[
            "status"
        ] != "finished":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        bell.close()
    assert bell.commands == [b"b0@ring|volume=2"]  # once, to the device heard
    check = next(c for c in doc["report"]["checks"] if c["name"] == "commands")
    assert check["verdict"] == "fail" and doc["verdict"] == "fail"
    assert check["figures"]["sent"] == 2 and check["figures"]["answered"] == 1
    assert check["figures"]["p99_s"] < 1
    assert check["examples"] == ["b1: ring not answered within 1 s"]
    html = client.get(f"/testbed/runs/{run_id}/report.html", headers=sandbox).text
    assert "commands" in html and "1 of 2 commands answered OK" in html
    # the command went the ordinary way: the answering device's entity says OK
    entity = client.get(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Bell:b0", headers={"NGSILD-Tenant": "firm1"}
    )
    assert entity.json()["ring_status"]["value"] == "OK"
