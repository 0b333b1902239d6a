"""Conformance runs: record a sandbox's device messages for a while, then judge them.

A run observes every message sent with one API key of the sandbox (tenant) for `duration`
seconds, then evaluates them against the device profile (`dalgu.testbed.conformance`) and
keeps the report in the store, listable per sandbox. When the profile declares commands, the
run sends each of them to every device it hears from and times the device's answer
(`dalgu.testbed.roundtrips`). Runs live in the server process that receives the devices'
messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dalgu.broker.model import now_iso
from dalgu.devices.commands import CommandStatus
from dalgu.devices.service import DeviceService
from dalgu.devices.traffic import MessageEvent
from dalgu.errors import BadRequestData, ResourceNotFound
from dalgu.store.base import ReportArchive
from dalgu.testbed.conformance import evaluate
from dalgu.testbed.profile import DeviceProfile
from dalgu.testbed.roundtrips import CommandTrip, command_check

MAX_EVENTS = 1_000_000  # a run keeps at most this many messages (the rest are counted)
MAX_DURATION = 7 * 24 * 3600.0
FINAL = frozenset({"OK", "ERROR", "EXPIRED"})  # command statuses that end a round trip


@dataclass
class ConformanceRun:
    id: str
    tenant: str
    apikey: str
    profile: DeviceProfile
    duration: float
    started: float
    created_at: str
    events: list[MessageEvent] = field(default_factory=list)
    overflow: int = 0
    task: asyncio.Task[None] | None = None
    trips: dict[tuple[str, str], CommandTrip] = field(default_factory=dict)  # (entity, name)
    heard: set[str] = field(default_factory=set)  # devices commands were sent to
    first_heard: Callable[[ConformanceRun, str], None] | None = None
    sending: set[asyncio.Task[None]] = field(default_factory=set)

    def observe(self, event: MessageEvent) -> None:
        if event.apikey != self.apikey:
            return
        if len(self.events) < MAX_EVENTS:
            self.events.append(event)
        else:
            self.overflow += 1
        if event.error is None and event.device_id not in self.heard and self.profile.commands:
            self.heard.add(event.device_id)
            if self.first_heard is not None:
                self.first_heard(self, event.device_id)

    def command_status(self, status: CommandStatus) -> None:
        """A command's status changed (dispatcher observer): note a result of ours."""
        trip = self.trips.get((status.entity_id, status.name))
        if trip is None or status.tenant != self.tenant or trip.answered is not None:
            return
        trip.status = status.status
        if status.status in FINAL:
            trip.answered = status.at
            if status.status != "OK" and status.info is not None:
                trip.info = str(status.info)

    def status(self) -> dict[str, Any]:
        elapsed = min(self.duration, time.time() - self.started)
        return {
            "id": self.id,
            "status": "running",
            "profile": self.profile.name,
            "apikey": self.apikey,
            "duration": self.duration,
            "elapsed": round(elapsed, 3),
            "messages": len(self.events) + self.overflow,
            "createdAt": self.created_at,
        }


class TestbedService:
    def __init__(self, devices: DeviceService, archive: ReportArchive) -> None:
        self.devices = devices
        self.archive = archive
        self.runs: dict[str, ConformanceRun] = {}

    async def start(
        self, tenant: str, apikey: str, profile: DeviceProfile, duration: float
    ) -> ConformanceRun:
        if not 0 < duration <= MAX_DURATION:
            raise BadRequestData(f"duration must be between 0 and {MAX_DURATION:g} seconds")
        groups = await self.devices.registry.groups(tenant, None)
        if apikey not in {g.apikey for g in groups}:
            raise ResourceNotFound(f"this sandbox has no config group with apikey {apikey!r}")
        run = ConformanceRun(
            id=f"urn:ngsi-ld:ConformanceRun:{uuid.uuid4()}",
            tenant=tenant,
            apikey=apikey,
            profile=profile,
            duration=duration,
            started=time.time(),
            created_at=now_iso(),
        )
        self.runs[run.id] = run
        run.first_heard = self._first_heard
        self.devices.traffic.observers.append(run.observe)
        self.devices.commands.observers.append(run.command_status)
        run.task = asyncio.create_task(self._finish_after(run))
        return run

    def _first_heard(self, run: ConformanceRun, device_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._send_commands(run, device_id))
        run.sending.add(task)
        task.add_done_callback(run.sending.discard)

    async def _send_commands(self, run: ConformanceRun, device_id: str) -> None:
        """Send the profile's commands to a device just heard, if its answers can still come
        within the run."""
        if time.time() + run.profile.command_deadline > run.started + run.duration:
            return
        commands = self.devices.commands
        targets = await commands.targets(run.tenant)
        entity_id = next(
            (
                entity
                for entity, target in targets.items()
                if target.binding.device_id == device_id and target.binding.apikey == run.apikey
            ),
            None,
        )
        for spec in run.profile.commands:
            trip = CommandTrip(device_id, spec.name, time.time())
            if entity_id is None:
                trip.status, trip.info = "UNSENT", "the device has no commands provisioned"
                run.trips[(f"device:{device_id}", spec.name)] = trip
                continue
            run.trips[(entity_id, spec.name)] = trip
            if not await commands.send(run.tenant, entity_id, spec.name, spec.value):
                trip.status, trip.info = "UNSENT", "the command is not provisioned for it"

    async def _finish_after(self, run: ConformanceRun) -> None:
        try:
            await asyncio.sleep(run.duration)
        finally:
            with contextlib.suppress(ValueError):
                self.devices.traffic.observers.remove(run.observe)
            for task in list(run.sending):
                task.cancel()
            with contextlib.suppress(ValueError):
                self.devices.commands.observers.remove(run.command_status)
        trips = command_check(run.profile, list(run.trips.values()))
        report = evaluate(
            run.profile, run.apikey, run.events, run.started, time.time(), extra=[trips]
        )
        doc = {
            **run.status(),
            "status": "finished",
            "messages": report.messages + run.overflow,
            "verdict": report.verdict,
            "report": report.to_json(),
        }
        await self.archive.put_report(run.tenant, run.id, run.created_at, doc)
        self.runs.pop(run.id, None)

    async def get(self, tenant: str, run_id: str) -> dict[str, Any]:
        run = self.runs.get(run_id)
        if run is not None and run.tenant == tenant:
            return run.status()
        doc = await self.archive.report(tenant, run_id)
        if doc is None:
            raise ResourceNotFound(f"no conformance run {run_id} in this sandbox")
        return doc

    async def list(self, tenant: str) -> list[dict[str, Any]]:
        running = [r.status() for r in self.runs.values() if r.tenant == tenant]
        finished = [
            {k: v for k, v in doc.items() if k != "report"}
            for doc in await self.archive.reports(tenant)
        ]
        return running + finished

    async def stop(self) -> None:
        for run in list(self.runs.values()):
            if run.task is not None:
                run.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run.task
