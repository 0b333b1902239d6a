"""The detectors on the rates real units use: a band that reports every 1.5-2 s, a car at
2-7 Hz. A band every 2 s left seconds without a message, which ended every silence, so a
stopped heart was never found; a car under 8 Hz had no second read as whole, so a collapse
was never read (both silently: recall 0 on such drives)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from dalgu.safety import signals as vss
from dalgu.safety.alert import Alert
from dalgu.safety.monitor import VehicleMonitor
from dalgu.safety.scenario import Sample
from tests.safety.crafted import EVENT, Signals, collapsing_from, steady_vehicle

BEAT = 60.0 / 70.0  # s, a steady 70 bpm


def band(period: float, stops: float | None) -> Callable[[float], Signals]:
    """A band worn well, reporting every `period` s the beats since its last report; the heart
    stops at `stops` (None: never)."""

    def wearable(t: float) -> Signals:
        beats = [
            k * BEAT
            for k in range(math.floor((t - period) / BEAT) + 1, math.floor(t / BEAT) + 1)
            if t - period < k * BEAT <= t and (stops is None or k * BEAT < stops)
        ]
        return {
            vss.IS_WORN: True,
            vss.SIGNAL_QUALITY: 0.9,
            vss.HEART_RATE: 70.0,
            vss.RR_INTERVALS: [BEAT * 1000.0] * len(beats),
            vss.SPO2: 97.0,
        }

    return wearable


def drive(
    seconds: float,
    car_hz: float,
    vehicle: Callable[[float], Signals],
    band_period: float | None,
    wearable: Callable[[float], Signals],
) -> Iterator[Sample]:
    out = [Sample(k / car_hz, "vehicle", vehicle(k / car_hz)) for k in range(int(seconds * car_hz))]
    if band_period is not None:
        out += [
            Sample(k * band_period + 0.05, "wearable", wearable(k * band_period + 0.05))
            for k in range(1, int(seconds / band_period))
        ]
    yield from sorted(out, key=lambda s: s.t)


def alerts_of(samples: Iterator[Sample], seconds: float) -> list[Alert]:
    monitor = VehicleMonitor("vehicle-test", "driver-test")
    alerts = [a for s in samples for a in monitor.feed(s)]
    return alerts + monitor.advance(seconds + 1)


@pytest.mark.parametrize("period", [1.0, 1.5, 2.0])
def test_a_stopped_heart_is_found_from_a_band_that_reports_every_two_seconds(
    period: float,
) -> None:
    seconds = EVENT + 40
    alerts = alerts_of(drive(seconds, 10.0, steady_vehicle, period, band(period, EVENT)), seconds)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "asystole")]
    assert EVENT + 4 <= alerts[0].raised <= EVENT + 10
    assert EVENT - 3 <= alerts[0].onset <= EVENT + 2


@pytest.mark.parametrize("car_hz", [2.0, 5.0, 7.0, 10.0])
def test_a_collapse_without_the_band_is_found_from_a_car_at_two_to_ten_hertz(
    car_hz: float,
) -> None:
    seconds = EVENT + 40
    alerts = alerts_of(
        drive(seconds, car_hz, collapsing_from(EVENT), 1.0, lambda t: _band_off_before(t)),
        seconds,
    )
    assert [a.type for a in alerts] == ["incapacitation"]
    assert EVENT + 2 <= alerts[0].raised <= EVENT + 10


def _band_off_before(t: float) -> Signals:
    if t < EVENT - 150:
        return band(1.0, None)(t)
    return {vss.IS_WORN: False, vss.SIGNAL_QUALITY: 0.0}


def test_a_steady_drive_at_five_hertz_and_a_band_every_two_seconds_raises_nothing() -> None:
    seconds = EVENT + 100
    assert alerts_of(drive(seconds, 5.0, steady_vehicle, 2.0, band(2.0, None)), seconds) == []


def test_the_live_service_logs_a_band_slower_than_the_detectors_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from dalgu.devices.traffic import MessageEvent
    from dalgu.safety.service import SafetyService

    caplog.set_level(logging.WARNING, logger="dalgu.safety.service")
    service = SafetyService(entities=None, terms=None)  # type: ignore[arg-type]
    start = 1_800_000_000.0
    for sample in drive(90, 10.0, steady_vehicle, 4.0, band(4.0, None)):
        device = "veh-1" if sample.source == "vehicle" else "veh-1-wearable"
        stamp = datetime.fromtimestamp(start + sample.t, UTC).isoformat()
        received = start + sample.t + 0.1
        groups = ((dict(sample.signals), stamp),)
        service.observe(MessageEvent("k", device, "mqtt", received, received, groups))
    said = [r.getMessage() for r in caplog.records]
    assert [m for m in said if "veh-1: the band reports every 4.0 s" in m], said
