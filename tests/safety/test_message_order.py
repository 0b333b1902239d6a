"""The live service sees each second a telematics message of ten samples (t .. t+0.9), then
the wearable's message of that second. When the two clocks are not aligned to whole seconds,
the car's message ends past a second's bound before the wearable's sample of that second
arrives: the wearable must still be judged with it (it was dropped as late, every second, and
a stopped heart went unseen)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dalgu.devices.traffic import MessageEvent
from dalgu.safety import signals as vss
from dalgu.safety.service import Raised, SafetyService
from tests.safety.crafted import steady_vehicle, steady_wearable

EVENT = 640.0  # s into the drive, after the ten minutes of calibration
START = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def vehicle(t: float) -> dict[str, Any]:
    signals = steady_vehicle(t)
    if t > EVENT + 2:  # the driver faints: the wheel goes still, the eyes off the road
        signals.update({vss.STEERING: 0.0, vss.EYES_ON_ROAD: False, vss.SPEED: 90 - (t - EVENT)})
    return signals


def wearable(t: float) -> dict[str, Any]:
    if t < EVENT:
        return steady_wearable(t)
    return {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.45, vss.RR_INTERVALS: []}


def stamp(t: float) -> str:
    return (START + timedelta(seconds=t)).isoformat().replace("+00:00", "Z")


def messages(phase: float) -> list[MessageEvent]:
    out = []
    for second in range(int(EVENT + 30)):
        t0 = second + phase
        cars = tuple((vehicle(t0 + k / 10), stamp(t0 + k / 10)) for k in range(10))
        band = ((wearable(t0 + 0.5), stamp(t0 + 0.5)),)
        received = (START + timedelta(seconds=t0 + 1)).timestamp()
        out.append(MessageEvent("car", "veh-1", "mqtt", received, received, cars))
        out.append(MessageEvent("band", "veh-1-wearable", "mqtt", received, received, band))
    return out


@pytest.mark.parametrize("phase", [0.0, 0.25, 0.55, 0.9])
def test_a_stopped_heart_is_found_whatever_the_phase_of_the_messages(phase: float) -> None:
    # observe() only queues alerts; writing them (the entity service) is not needed here
    service = SafetyService(entities=None, terms=None)  # type: ignore[arg-type]
    for event in messages(phase):
        service.observe(event)
    queue = service._queue  # alerts, and the drive's start (whose driver is looked up)
    alerts = [
        a.alert for a in (queue.get_nowait() for _ in range(queue.qsize())) if isinstance(a, Raised)
    ]
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "asystole")]
    collapse = START.timestamp() + EVENT + phase
    assert collapse + 3 <= alerts[0].raised <= collapse + 8
