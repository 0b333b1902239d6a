"""Conformance runs: record a sandbox's device messages for a while, then judge them.

A run observes every message sent with one API key of the sandbox (tenant) for `duration`
seconds, then evaluates them against the device profile (`dalgu.testbed.conformance`) and
keeps the report in the store, listable per sandbox. When the profile declares commands, the
run sends each of them to every device it hears from and times the device's answer
(`dalgu.testbed.roundtrips`).

Runs live in the store, not in one process: with several server workers a device's messages
and command results reach any of them. Every process looks at the store's run journal every
`REFRESH` seconds, writes what it saw of each running run into it (`dalgu.testbed.journal`),
and keeps the last `RECENT` seconds of messages and command statuses so that it can add those
a run started elsewhere had from its start, before this process heard of it. One process
holds each run's lease (renewed while it lives, taken over by another when it lapses): it
sends the commands, and once the run is over and every process had time to write what it
saw, it judges the run and archives the report.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from dalgu.background import cancel_and_wait
from dalgu.broker.model import now_iso
from dalgu.devices.commands import CommandStatus
from dalgu.devices.ownership import owners
from dalgu.devices.service import DeviceService
from dalgu.devices.traffic import MessageEvent
from dalgu.errors import BadRequestData, DalguError, ResourceNotFound
from dalgu.store.base import ReportArchive, RunJournal, RunRecord
from dalgu.testbed.conformance import evaluate
from dalgu.testbed.groupcheck import mapping_check
from dalgu.testbed.journal import (
    MESSAGE,
    SENT,
    STATUS,
    RunRecording,
    SentCommand,
    message_doc,
    sent_doc,
    status_doc,
)
from dalgu.testbed.profile import DeviceProfile
from dalgu.testbed.roundtrips import command_check

log = logging.getLogger(__name__)

MAX_EVENTS = 1_000_000  # messages of a run one process records at most
MAX_DURATION = 7 * 24 * 3600.0
REFRESH = 0.25  # seconds between a process's looks at the run journal
RECENT = 3.0  # seconds of messages and command statuses kept for runs not heard of yet
LEASE = 5.0  # seconds a run's owner holds it without renewing
GRACE = 1.0  # after a run ends, time for every process to write what it saw


@dataclass
class ActiveRun:
    record: RunRecord
    profile: DeviceProfile
    recorded: int = 0  # messages this process wrote
    recording: RunRecording | None = None  # the owner's view of every process's events
    last_seq: int = 0
    commanded: set[str] = field(default_factory=set)

    def status(self, messages: int) -> dict[str, Any]:
        r = self.record
        elapsed = min(r.ends - r.started, max(0.0, time.time() - r.started))
        return {
            "id": r.id,
            "status": "running",
            "profile": self.profile.name,
            "apikey": masked(r.apikey),
            "duration": r.ends - r.started,
            "elapsed": round(elapsed, 3),
            "messages": messages,
            "createdAt": r.doc["createdAt"],
        }


def masked(apikey: str) -> str:
    """An API key as runs and their reports show it: enough to tell keys apart, not to use
    one (a sandbox key is shown once, and the HTML report is a page to send to the firm)."""
    return f"{apikey[:4]}…" if len(apikey) > 8 else "…"


class TestbedService:
    def __init__(
        self,
        devices: DeviceService,
        archive: ReportArchive,
        journal: RunJournal,
        *,
        owner: str | None = None,
        recent: float = RECENT,
    ) -> None:
        self.devices = devices
        self.archive = archive
        self.journal = journal
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.runs: dict[str, ActiveRun] = {}
        self._by_apikey: dict[str, list[ActiveRun]] = {}
        self._recent: collections.deque[tuple[float, MessageEvent | CommandStatus]] = (
            collections.deque()
        )
        self._keep = recent  # 0: this is the only process, every run starts here
        self._pending: list[tuple[str, str, str, bytes]] = []
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        devices.traffic.observers.append(self._observe)
        devices.commands.observers.append(self._command_status)

    def open(self) -> None:
        """Start looking at the run journal (from the server's start-up)."""
        self._task = asyncio.create_task(self._watch(), name="testbed-runs")

    async def start(
        self, tenant: str, apikey: str, profile: DeviceProfile, duration: float
    ) -> dict[str, Any]:
        if not 0 < duration <= MAX_DURATION:
            raise BadRequestData(f"duration must be between 0 and {MAX_DURATION:g} seconds")
        groups = await self.devices.registry.groups(tenant, None)
        if apikey not in {g.apikey for g in groups}:
            raise ResourceNotFound(f"this sandbox has no config group with apikey {apikey!r}")
        if await owners(self.devices.registry, apikey) != [tenant]:
            # another service's group has it too (provisioned before keys were refused in
            # other services): a run here would watch that service's devices
            raise ResourceNotFound(
                f"apikey {apikey!r} is used by another service's config groups as well: a "
                "run watches only a key of this sandbox alone"
            )
        now = time.time()
        record = RunRecord(
            id=f"urn:ngsi-ld:ConformanceRun:{uuid.uuid4()}",
            tenant=tenant,
            apikey=apikey,
            doc={"profile": profile.model_dump(mode="json"), "createdAt": now_iso()},
            started=now,
            ends=now + duration,
            owner=self.owner,
            lease_until=now + LEASE,
        )
        await self.journal.put_run(record)
        run = ActiveRun(record, profile)
        self._known({**self.runs, record.id: run})
        return run.status(0)

    # --- what this process sees -----------------------------------------------------------

    def _remember(self, at: float, seen: MessageEvent | CommandStatus) -> None:
        if self._keep:
            self._recent.append((at, seen))
            while self._recent[0][0] < at - self._keep:
                self._recent.popleft()

    def _observe(self, event: MessageEvent) -> None:
        self._remember(event.received, event)
        for run in self._by_apikey.get(event.apikey, ()):
            self._record(run, event)

    def _record(self, run: ActiveRun, event: MessageEvent) -> None:
        r = run.record
        if r.started <= event.received <= r.ends and run.recorded < MAX_EVENTS:
            run.recorded += 1
            self._pending.append((r.tenant, r.id, MESSAGE, message_doc(event)))

    def _command_status(self, status: CommandStatus) -> None:
        self._remember(status.at, status)
        for run in self.runs.values():
            self._record_status(run, status)

    def _record_status(self, run: ActiveRun, status: CommandStatus) -> None:
        r = run.record
        if r.tenant == status.tenant and r.started <= status.at <= r.ends:
            self._pending.append((r.tenant, r.id, STATUS, status_doc(status)))

    def _known(self, runs: dict[str, ActiveRun]) -> None:
        """The running runs as last read; a run new to this process gets the recent messages
        and command statuses it had from its start."""
        for run_id, run in runs.items():
            if run_id not in self.runs:
                for _, seen in self._recent:
                    if isinstance(seen, CommandStatus):
                        self._record_status(run, seen)
                    elif seen.apikey == run.record.apikey:
                        self._record(run, seen)
        self.runs = runs
        by_apikey: dict[str, list[ActiveRun]] = {}
        for run in runs.values():
            by_apikey.setdefault(run.record.apikey, []).append(run)
        self._by_apikey = by_apikey

    # --- the journal ----------------------------------------------------------------------

    async def _watch(self) -> None:
        """Look at the run journal until stopped. Whatever a look fails with (the store
        unavailable, a driver's connection refused while a pool reconnects), the next one is
        tried: a connection error ended this task for good in every worker after a PostgreSQL
        outage, silently (an outside test). A failure is logged once, and its end."""
        failing: str | None = None
        while True:
            try:
                await self._tick()
                if failing is not None:
                    log.warning("conformance runs: the run journal answers again")
                    failing = None
            except Exception as error:
                said = error.detail if isinstance(error, DalguError) else repr(error)
                if said != failing:
                    log.warning("conformance runs: %s; looking again every %g s", said, REFRESH)
                    failing = said
            await asyncio.sleep(REFRESH)

    async def _flush(self) -> None:
        pending, self._pending = self._pending, []
        try:
            await self.journal.add_run_events(pending)
        except BaseException:
            self._pending = pending + self._pending
            raise

    async def _tick(self) -> None:
        records = await self.journal.active_runs()
        runs: dict[str, ActiveRun] = {}
        for record in records:
            known = self.runs.get(record.id)
            if known is not None:
                known.record = record
                runs[record.id] = known
            else:
                profile = DeviceProfile.model_validate(record.doc["profile"])
                runs[record.id] = ActiveRun(record, profile)
        self._known(runs)
        await self._flush()  # with what a run new to this process had from its start
        now = time.time()
        for run in list(runs.values()):
            r = run.record
            mine = r.owner == self.owner
            if (mine and r.lease_until - now < LEASE - 1) or (not mine and r.lease_until < now):
                if not await self.journal.claim_run(r.id, self.owner, now, now + LEASE):
                    continue
                mine = True
            if mine:
                await self._follow(run, now)

    async def _follow(self, run: ActiveRun, now: float) -> None:
        """The owner reads what every process recorded, sends commands, judges at the end."""
        if run.recording is None:
            run.recording, run.last_seq = RunRecording.empty(), 0
        for seq, kind, doc in await self.journal.run_events(run.record.id, run.last_seq):
            run.last_seq = seq
            run.recording.add(kind, doc)
        run.commanded |= run.recording.commanded
        if run.profile.commands:
            for device in sorted(run.recording.heard - run.commanded):
                run.commanded.add(device)
                task = asyncio.get_running_loop().create_task(self._send_commands(run, device))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
        if now >= run.record.ends + GRACE:
            await self._finish(run)

    async def _send_commands(self, run: ActiveRun, device_id: str) -> None:
        """Send the profile's commands to a device just heard, if its answers can still come
        within the run. Each round trip is in the journal before its command goes out."""
        r = run.record
        if time.time() + run.profile.command_deadline > r.ends:
            return
        commands = self.devices.commands
        entity_id = await self._entity_of(r, device_id)
        if entity_id is None:
            commands.forget(r.tenant)  # another process may have provisioned it
            entity_id = await self._entity_of(r, device_id)
        target = (await commands.targets(r.tenant)).get(entity_id or "")
        for spec in run.profile.commands:
            unsent = None
            if entity_id is None:
                unsent = "the device has no commands provisioned"
            elif target is None or spec.name not in target.binding.commands:
                unsent = "the command is not provisioned for it"
            sent = SentCommand(device_id, spec.name, entity_id, time.time(), unsent)
            await self.journal.add_run_events([(r.tenant, r.id, SENT, sent_doc(sent))])
            if unsent is None and entity_id is not None:
                await commands.send(r.tenant, entity_id, spec.name, spec.value)

    async def _entity_of(self, r: RunRecord, device_id: str) -> str | None:
        targets = await self.devices.commands.targets(r.tenant)
        return next(
            (
                entity
                for entity, target in targets.items()
                if target.binding.device_id == device_id and target.binding.apikey == r.apikey
            ),
            None,
        )

    async def _finish(self, run: ActiveRun) -> None:
        r = run.record
        assert run.recording is not None
        trips = command_check(run.profile, list(run.recording.trips.values()))
        groups = [
            {**g.doc, "resource": g.key}
            for g in await self.devices.registry.groups(r.tenant, None)
            if g.apikey == r.apikey
        ]
        mapping = mapping_check(run.profile, groups)
        report = evaluate(
            run.profile,
            masked(r.apikey),
            run.recording.messages,
            r.started,
            r.ends,
            extra=[mapping, trips],
        )
        doc = {
            **run.status(report.messages),
            "status": "finished",
            "verdict": report.verdict,
            "report": report.to_json(),
        }
        await self.journal.finish_run(r, r.doc["createdAt"], doc)
        self._known({k: v for k, v in self.runs.items() if k != r.id})

    # --- reading --------------------------------------------------------------------------

    async def _running(self, tenant: str) -> list[ActiveRun]:
        found = []
        for record in await self.journal.active_runs():
            if record.tenant == tenant:
                known = self.runs.get(record.id)
                profile = DeviceProfile.model_validate(record.doc["profile"])
                found.append(known or ActiveRun(record, profile))
        return found

    async def get(self, tenant: str, run_id: str) -> dict[str, Any]:
        for run in await self._running(tenant):
            if run.record.id == run_id:
                return run.status(await self._messages(run))
        doc = await self.archive.report(tenant, run_id)
        if doc is None:
            raise ResourceNotFound(f"no conformance run {run_id} in this sandbox")
        return doc

    async def _messages(self, run: ActiveRun) -> int:
        waiting = sum(1 for p in self._pending if p[1] == run.record.id and p[2] == MESSAGE)
        return await self.journal.count_run_events(run.record.id, MESSAGE) + waiting

    async def list(self, tenant: str) -> list[dict[str, Any]]:
        running = [r.status(await self._messages(r)) for r in await self._running(tenant)]
        finished = [
            {k: v for k, v in doc.items() if k != "report"}
            for doc in await self.archive.reports(tenant)
        ]
        return running + finished

    async def stop(self) -> None:
        for task in [*self._sending, self._task]:
            await cancel_and_wait(task)
        self._task = None
        with contextlib.suppress(DalguError):
            await self._flush()  # what this process saw is not lost to a restart
