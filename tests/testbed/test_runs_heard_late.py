"""A worker learns of a run up to `REFRESH` seconds after it started elsewhere: what it saw of
the run in between (messages, and command results too) still goes into the run's journal."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.devices.commands import CommandStatus
from dalgu.settings import Settings
from dalgu.testbed import runs
from dalgu.testbed.journal import STATUS, RunRecording, SentCommand, sent_doc

GROUP = {
    "apikey": "late",
    "entity_type": "Bell",
    "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
    "commands": [{"name": "ring", "type": "command"}],
}
PROFILE = {
    "name": "bell",
    "entity_type": "Bell",
    "interval": 1,
    "commands": [{"name": "ring", "value": 1}],
    "measures": [{"object_id": "t", "name": "temperature", "type": "Number"}],
}


def test_a_command_result_seen_before_the_worker_heard_of_the_run_reaches_the_journal(
    settings: Settings,
) -> None:
    with TestClient(build_app(settings)) as client:
        assert client.post("/iot/services", json={"services": [GROUP]}).status_code == 201
        started = client.post(
            "/testbed/runs", json={"apikey": "late", "profile": PROFILE, "duration": 30}
        )
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        runtime = client.app.state.dalgu  # type: ignore[attr-defined]
        owner = runtime.testbed
        # a second worker, which has not looked at the run journal since the run began
        other = runs.TestbedService(owner.devices, owner.archive, owner.journal, owner="other")
        assert other.runs == {}
        entity = "urn:ngsi-ld:Bell:b1"
        sent = SentCommand("b1", "ring", entity, time.time())
        record = owner.runs[run_id].record
        journal = owner.journal
        client.portal.call(
            journal.add_run_events, [(record.tenant, run_id, runs.SENT, sent_doc(sent))]
        )
        # the device's answer reaches the other worker before its first look
        answered = CommandStatus(record.tenant, entity, "ring", "OK", "rang", time.time())
        owner.devices.commands.observers.remove(owner._command_status)
        try:
            for observe in owner.devices.commands.observers:
                observe(answered)
        finally:
            owner.devices.commands.observers.append(owner._command_status)
        client.portal.call(other._tick)
        events = client.portal.call(journal.run_events, run_id, 0)
        assert [kind for _, kind, _ in events].count(STATUS) == 1
        recording = RunRecording.empty()
        for _, kind, doc in events:
            recording.add(kind, doc)
        trip = recording.trips[(entity, "ring")]
        assert trip.status == "OK" and trip.answered == answered.at
        other.devices.commands.observers.remove(other._command_status)
        other.devices.traffic.observers.remove(other._observe)
