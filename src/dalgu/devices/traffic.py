"""What devices send: every southbound message as an event, counted per device and outcome.

Transports hand each message to `DeviceService.receive`, which parses, stores and records it
here, whether it was stored or refused (and why). Observers (a testbed conformance run, say)
see every event as it happens; the counters answer "how many messages did device X send, and
how many were refused for which reason".
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MeasureGroups = tuple[tuple[dict[str, Any], str | None], ...]


@dataclass(frozen=True, slots=True)
class MessageEvent:
    apikey: str
    device_id: str
    transport: str  # http, mqtt, coap
    received: float  # epoch seconds, when the transport had it
    stored: float | None  # when its write committed; None when refused
    groups: MeasureGroups  # the measures as the device sent them, with its timestamps
    error: str | None = None  # the refusal's kind (BadRequestData, ResourceNotFound…)
    detail: str | None = None
    tenant: str = ""  # where a stored message's measures went ("": the default tenant)
    kind: str = "measure"  # or "result": a command's result (`/cmdexe`, `/commands`)


Observer = Callable[[MessageEvent], None]


def shown(apikey: str) -> str:
    """An API key as logs show it: its first characters, enough to tell keys apart, not to
    use one (a sandbox's keys are secrets shown once; logs go to every operator)."""
    return f"{apikey[:4]}…" if len(apikey) > 8 else apikey


class DeviceTraffic:
    def __init__(self) -> None:
        self.observers: list[Observer] = []
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (apikey, device, outcome)

    def record(self, event: MessageEvent, *, quiet: bool = False) -> None:
        """Count the event and tell the observers; a refusal is logged (`quiet`: at debug)."""
        outcome = "stored" if event.error is None else event.error
        self.counts[(event.apikey, event.device_id, outcome)] += 1
        if event.error is not None:
            log.log(
                logging.DEBUG if quiet else logging.WARNING,
                "message from %s/%s over %s refused (%s): %s",
                shown(event.apikey),
                event.device_id,
                event.transport,
                event.error,
                event.detail,
            )
        for observer in list(self.observers):
            observer(event)

    def of(self, apikey: str) -> dict[str, dict[str, int]]:
        """device → outcome → messages, for one API key."""
        out: dict[str, dict[str, int]] = {}
        for (key, device, outcome), count in self.counts.items():
            if key == apikey:
                out.setdefault(device, {})[outcome] = count
        return out
