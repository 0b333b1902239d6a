"""A simulated fleet on the wire: generated drives cut into the messages each car's telematics
unit and its driver's wearable publish through the gateway, second by second.

A telematics unit batches its 10 Hz samples into one message a second: a FIWARE IoT Agent JSON
array of measure groups, each with its `TimeInstant` (ten measure groups for the gateway to
store), or a telemetry window (one group: the newest values and the window of samples, see
`dalgu.safety.telemetry_window`); the wearable sends one message a second.
The same drives serve the live demonstration (`dalgu demo safety`), the throughput benchmark
(`bench/safety.py`) and the evaluation through the real gateway (`dalgu safety evaluate
--through-gateway`): only the pace and the publisher differ.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from dalgu.safety.generator import generate_scenario
from dalgu.safety.plan import CALIBRATION
from dalgu.safety.scenario import Event, Labels, Scenario, SignalValue
from dalgu.safety.telemetry_window import window_group

WEARABLE_SUFFIX = "-wearable"
Groups = list[dict[str, Any]]  # measure groups of one message, each with "t" (drive seconds)

# what the demonstration injects, vehicle by vehicle (None: a quiet drive, for contrast)
DEMO_EVENTS: tuple[tuple[str, str] | None, ...] = (
    ("cardiac", "asystole"),
    ("hypoxaemia", "desaturation"),
    ("drowsiness", "drowsy-driving"),
    ("cardiac", "bradycardia"),
    ("incapacitation", "loss-of-control"),
    ("cardiac", "tachycardia"),
    None,
    ("cardiac", "arrhythmia"),
)


@dataclass(frozen=True)
class SimulatedVehicle:
    """One car and its driver: the drive's labels and its messages, second by second."""

    name: str  # the telematics unit's device id, which names the Vehicle entity
    labels: Labels
    seconds: tuple[tuple[Groups, Groups], ...]  # per second: (telemetry, wearable) groups

    @property
    def wearable(self) -> str:
        return self.name + WEARABLE_SUFFIX

    @property
    def duration(self) -> int:
        return len(self.seconds)

    def messages(self, second: int, start: float) -> tuple[bytes | None, bytes | None]:
        """The (telemetry, wearable) payloads of one second of the drive, stamped as if the
        drive had started at epoch `start`; None where that source sent nothing."""
        car, band = self.seconds[second]
        return _payload(car, start), _payload(band, start)


def _payload(groups: Groups, start: float) -> bytes | None:
    if not groups:
        return None
    return orjson.dumps(
        [
            {**{k: v for k, v in g.items() if k != "t"}, "TimeInstant": stamp(start + g["t"])}
            for g in groups
        ]
    )


def stamp(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def on_the_wire(name: str, scenario: Scenario, *, windows: bool = False) -> SimulatedVehicle:
    """A scenario's samples as the messages of each second (a wearable omits what it lacks);
    with `windows`, each second's telemetry as one telemetry window."""
    seconds: list[tuple[Groups, Groups]] = [
        ([], []) for _ in range(int(scenario.labels.duration) + 1)
    ]
    for sample in scenario.samples:
        index = int(sample.t)
        if index >= len(seconds):
            continue
        values = {k: v for k, v in sample.signals.items() if v is not None}
        seconds[index][0 if sample.source == "vehicle" else 1].append({**values, "t": sample.t})
    if windows:
        seconds = [
            ([window_group([(g["t"], _signals(g)) for g in car])] if car else [], band)
            for car, band in seconds
        ]
    return SimulatedVehicle(name, scenario.labels, tuple(seconds))


def _signals(group: dict[str, Any]) -> dict[str, SignalValue]:
    return {k: v for k, v in group.items() if k != "t"}


def demo_schedule(
    vehicles: int, *, duration: float = 1800.0, first: float = 20.0, every: float = 30.0
) -> list[list[Event]]:
    """Vehicle by vehicle, the event injected into its drive (onsets in drive seconds): the
    medical ones `first` s after the baseline minutes and `every` s apart (starting over when
    the drives would end), a drowsy episode no earlier than 5 minutes after the baseline (its
    body changes start 4 minutes before its onset)."""
    slots = max(1, int((duration - CALIBRATION - first - 120.0) // every))
    out: list[list[Event]] = []
    for index in range(vehicles):
        kind = DEMO_EVENTS[index % len(DEMO_EVENTS)]
        onset = CALIBRATION + first + every * (index % slots)
        if kind is None:
            out.append([])
        elif kind[0] == "drowsiness":
            onset = max(onset, CALIBRATION + 300.0)
            if onset + 120.0 > duration:
                out.append([])  # too short a drive for a drowsy episode
                continue
            out.append([Event("drowsiness", onset, onset + 600.0, {"lead": 240.0})])
        elif onset + 30.0 > duration:
            out.append([])  # the drives end before its turn
        else:
            out.append([Event(kind[0], onset, onset + 90.0, {"subtype": kind[1]})])
    return out


def demo_fleet(
    vehicles: int,
    *,
    duration: float = 1800.0,
    seed: int = 9000,
    prefix: str | None = None,
    windows: bool = True,
) -> list[SimulatedVehicle]:
    """`vehicles` cars on the demonstration's schedule (seeds from `seed`: the same fleet each
    time); names `<prefix>-001`… (a fresh prefix each run unless given). Each second's
    telemetry is one telemetry window (the form that lets one machine follow 1,000 cars);
    `windows=False` sends the ten measure groups of the older form."""
    prefix = prefix or f"demo{uuid.uuid4().hex[:4]}"
    return [
        on_the_wire(
            f"{prefix}-{n + 1:03d}",
            generate_scenario(seed + n, duration=duration, events=events),
            windows=windows,
        )
        for n, events in enumerate(demo_schedule(vehicles, duration=duration))
    ]


Publish = Callable[[str, str, bytes], Awaitable[None]]  # (kind: vehicle|wearable, device, payload)


def live_lead(longest: int, fast_until: int, speed: float) -> float:
    """s the paced part of drives `longest` s long is stamped behind the wall clock so that, at
    `speed` times real time, no sample is ahead of it when it goes out (the safety service
    reads a time ahead of a message's arrival as a clock fault)."""
    return max(0.0, float(longest - fast_until)) * (1.0 - 1.0 / speed)


async def stream(
    fleet: Sequence[SimulatedVehicle],
    publish: Publish,
    *,
    start: float,
    fast_until: int = 0,
    live_at: float | None = None,
    speed: float = 1.0,
    settle: Callable[[SimulatedVehicle, int], Awaitable[None]] | None = None,
    chunk: int = 20,
    on_second: Callable[[int], None] | None = None,
    on_live: Callable[[float], None] | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Publish every vehicle's drive, second by second (each second's wearable message, then its
    telemetry), stamped from epoch `start`.

    The first `fast_until` seconds go out as fast as `settle` lets them (called every `chunk`
    seconds with the vehicle and second published last; it returns once the gateway has stored
    that, so a broker's queue never overflows), but none before its samples' times have passed
    (`live_lead` before them faster than real time): none is ever stamped ahead of the wall
    clock. The rest go out at the drive's own pace times `speed`, each second when it has
    ended: from epoch `live_at` for second `fast_until` when given (catching up if the fast
    part ended later); else from when the fast part ended, and stamped from then: when the fast
    part took longer than `start` planned, the drives skip the seconds it overran, so that the
    paced part is live whatever the fast part took (`on_live` is told the start it is stamped
    from). Returns the seconds streamed.
    """
    longest = max((v.duration for v in fleet), default=0)
    lead = live_lead(longest, fast_until, speed)
    paced_from: float | None = None
    for second in range(longest):
        if stop is not None and stop.is_set():
            return second
        if second < fast_until:
            early = start + second + 1 + lead - time.time()
            if early > 0:
                await asyncio.sleep(early)
        else:
            if paced_from is None:
                paced_from = live_at if live_at is not None else time.time()
                if live_at is None:
                    start = max(start, paced_from - fast_until - lead)
                    if on_live is not None:
                        on_live(start)
            due = paced_from + (second + 1 - fast_until) / speed
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        if on_second is not None:
            on_second(second)
        last: SimulatedVehicle | None = None
        for vehicle in fleet:
            if second >= vehicle.duration:
                continue
            car, band = vehicle.messages(second, start)
            if band is not None:
                await publish("wearable", vehicle.wearable, band)
            if car is not None:
                await publish("vehicle", vehicle.name, car)
                last = vehicle
        if settle is not None and last is not None and second < fast_until and second % chunk == 0:
            await settle(last, second)
    return longest
