"""What a conformance run records, as documents in the store's run journal.

Devices' messages may reach any server process, so each process writes what it sees of a run
into the store (`dalgu.store.base.RunJournal`) and the process that owns the run judges them
all. Three kinds of event:

- `message`: a device's message (a `MessageEvent`), stored or refused;
- `sent`: the owner sent one of the profile's commands to a device (a round trip begins);
- `status`: a command's status changed (`CommandStatus`), in whichever process saw it.

Pure functions: encoding, decoding, and rebuilding the round trips from the events in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from dalgu.devices.commands import CommandStatus
from dalgu.devices.traffic import MessageEvent
from dalgu.testbed.roundtrips import CommandTrip

MESSAGE, SENT, STATUS = "message", "sent", "status"
FINAL = frozenset({"OK", "ERROR", "EXPIRED"})  # command statuses that end a round trip


def message_doc(event: MessageEvent) -> bytes:
    return orjson.dumps(
        [
            event.apikey,
            event.device_id,
            event.transport,
            event.received,
            event.stored,
            [[values, stamp] for values, stamp in event.groups],
            event.error,
            event.detail,
            event.kind,
        ]
    )


def message_event(doc: bytes) -> MessageEvent:
    apikey, device, transport, received, stored, groups, error, detail, *rest = orjson.loads(doc)
    return MessageEvent(
        apikey,
        device,
        transport,
        received,
        stored,
        tuple((values, stamp) for values, stamp in groups),
        error,
        detail,
        kind=rest[0] if rest else "measure",  # journals written before results were kept
    )


@dataclass(frozen=True, slots=True)
class SentCommand:
    """A round trip began: `entity_id` is None when the device has no such command."""

    device_id: str
    name: str
    entity_id: str | None
    sent: float
    unsent: str | None = None  # why it could not be sent


def sent_doc(sent: SentCommand) -> bytes:
    return orjson.dumps([sent.device_id, sent.name, sent.entity_id, sent.sent, sent.unsent])


def status_doc(status: CommandStatus) -> bytes:
    info: Any = status.info
    return orjson.dumps([status.entity_id, status.name, status.status, info, status.at])


@dataclass
class RunRecording:
    """A run's events read back in order: the messages, the devices heard, the round trips."""

    messages: list[MessageEvent]
    trips: dict[tuple[str, str], CommandTrip]  # (entity id or "device:<id>", command name)
    heard: set[str]  # devices that sent a stored message
    commanded: set[str]  # devices the run's commands went (or were to go) to

    @classmethod
    def empty(cls) -> RunRecording:
        return cls([], {}, set(), set())

    def add(self, kind: str, doc: bytes) -> MessageEvent | None:
        """Take one event in; a message is returned (the owner sends commands on it)."""
        if kind == MESSAGE:
            event = message_event(doc)
            self.messages.append(event)
            if event.error is None:
                self.heard.add(event.device_id)
            return event
        if kind == SENT:
            device, name, entity, at, unsent = orjson.loads(doc)
            trip = CommandTrip(device, name, at)
            self.commanded.add(device)
            if unsent is not None:
                trip.status, trip.info = "UNSENT", unsent
            self.trips[(entity or f"device:{device}", name)] = trip
        elif kind == STATUS:
            entity, name, status, info, at = orjson.loads(doc)
            begun = self.trips.get((entity, name))
            if begun is None or begun.answered is not None or begun.status == "UNSENT":
                return None
            if at < begun.sent:  # the status of an earlier command of that name
                return None
            begun.status = status
            if status in FINAL:
                begun.answered = at
                if status != "OK" and info is not None:
                    begun.info = str(info)
        return None
