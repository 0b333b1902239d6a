"""What the live safety service says and checks of its inputs: a start-up line (a mistyped
DALGU_SAFETY showed only as alerts that never came), and R-R interval lists checked item by
item as the gateway checks a scalar."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from dalgu.devices.traffic import MessageEvent
from dalgu.safety import signals as vss
from dalgu.safety.service import SafetyService


def test_the_service_says_it_is_on_when_it_starts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dalgu.safety.service")
    service = SafetyService(entities=None, terms=None)  # type: ignore[arg-type]

    async def run() -> None:
        service.start()
        await service.stop()

    asyncio.run(run())
    assert any(
        r.levelno == logging.INFO and "vehicle safety service on" in r.getMessage()
        for r in caplog.records
    )


def test_interval_items_that_are_no_beat_interval_are_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="dalgu.safety.service")
    service = SafetyService(entities=None, terms=None)  # type: ignore[arg-type]
    now = time.time()
    band = {
        vss.IS_WORN: True,
        vss.SIGNAL_QUALITY: 0.9,
        vss.RR_INTERVALS: ["800", None, -5, 1e9, True, 820],
    }
    service.observe(MessageEvent("w", "veh-1-wearable", "mqtt", now, now, ((band, None),)))
    monitor = service.monitors[("", "veh-1")]
    assert monitor.history.current.rr == [820.0]
    (line,) = [r.getMessage() for r in caplog.records if "R-R interval" in r.getMessage()]
    assert "veh-1-wearable sent 5 R-R interval items that are no beat interval" in line
    assert "'800', None, -5, 1000000000.0, True" in line


def test_beat_intervals_as_sent_are_read_as_they_are() -> None:
    service = SafetyService(entities=None, terms=None)  # type: ignore[arg-type]
    now = time.time()
    band = {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.9, vss.RR_INTERVALS: [812, 798.5]}
    service.observe(MessageEvent("w", "veh-2-wearable", "mqtt", now, now, ((band, None),)))
    assert service.monitors[("", "veh-2")].history.current.rr == [812.0, 798.5]


def test_a_stamp_that_is_no_time_is_read_at_arrival_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="dalgu.safety.service")
    service = SafetyService(entities=None, terms=None)  # type: ignore[arg-type]
    now = time.time()
    car = {vss.SPEED: 80.0}
    service.observe(MessageEvent("c", "veh-3", "mqtt", now, now, ((car, "yesterday"),)))
    assert service.monitors[("", "veh-3")].history.start == int(now)
    assert any(
        "veh-3 sent a sample stamped 'yesterday', not an ISO 8601 time" in r.getMessage()
        for r in caplog.records
    )


def test_the_seats_zero_intervals_are_left_to_its_quality_gate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A seat's ballistocardiograph on a rough road sends zeros (the generator's does too):
    read as sent, as in process, so a replay through the gateway reads what `evaluate` reads."""
    caplog.set_level(logging.WARNING, logger="dalgu.safety.service")
    service = SafetyService(entities=None, terms=None)  # type: ignore[arg-type]
    # mid-second: a car sample in a second's last 0.15 s closes it at once (`covered`), and
    # the intervals would be in a closed second rather than the current one (1 run in 7)
    now = int(time.time()) + 0.5
    car = {vss.SPEED: 80.0, vss.SEAT_QUALITY: 0.2, vss.SEAT_RR_INTERVALS: [0.0, 830, "x"]}
    service.observe(MessageEvent("c", "veh-4", "mqtt", now, now, ((car, None),)))
    assert service.monitors[("", "veh-4")].history.current.seat_rr == [0.0, 830.0]
    (line,) = [r.getMessage() for r in caplog.records if "R-R interval" in r.getMessage()]
    assert "sent 1 R-R interval items that are no beat interval ('x')" in line
