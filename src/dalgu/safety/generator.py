"""Seeded scenario generation: a driver, a road, a plan of events and confounders, and signals.

The same seed gives the same scenario. Drivers recur across seeds (`drivers` of them), each
with their own baseline, as in a fleet.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from dalgu.safety import signals as vss
from dalgu.safety.cabin import cabin_readings
from dalgu.safety.camera import camera_estimates, is_night
from dalgu.safety.drivers import driver_profile
from dalgu.safety.dynamics import vehicle_samples
from dalgu.safety.onboard import gaze_series, signal_series, with_estimates, with_readings
from dalgu.safety.physiology import simulate_body, wearable_samples
from dalgu.safety.plan import plan_drive, scheduled_drive
from dalgu.safety.scenario import Event, Labels, Sample, Scenario, SignalValue
from dalgu.safety.seat import seat_readings

EPOCH = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def generate_scenario(
    seed: int,
    *,
    duration: float = 1800.0,
    drivers: int = 12,
    mix: str = "mixed",
    events: Sequence[Event] | None = None,
) -> Scenario:
    """One drive of `duration` seconds (shorter when a medical emergency ends it).

    `events` replaces the drawn plan with a schedule (the confounders are still drawn).
    """
    rng = np.random.default_rng(seed)
    driver_number = int(rng.integers(drivers))
    driver = f"driver-{driver_number:03d}"
    profile = driver_profile(driver, driver_number)
    plan = (
        plan_drive(rng, duration, mix, seed)
        if events is None
        else scheduled_drive(rng, duration, list(events))
    )
    body = simulate_body(profile, plan, rng)
    vehicle = vehicle_samples(profile, plan, body.syncope, rng)
    wearable = wearable_samples(profile, plan, body, rng)
    # the car's heart-rate sensor draws from its own stream: the drive's other signals stay
    # what the same seed gave before it was added, and nothing ties it to the band's slips
    cabin = np.random.default_rng([seed, 0xCAB1])
    wheel = cabin_readings(plan, body, signal_series(vehicle, vss.STEERING), cabin)
    vehicle = with_readings(
        vehicle,
        wheel,
        vss.DRIVER_HEART_RATE_QUALITY,
        vss.DRIVER_HEART_RATE,
        vss.CABIN_RR_INTERVALS,
    )
    # the seat's heart sensor (round 10) likewise: its own stream, so nothing else changes
    seat = np.random.default_rng([seed, 0x5EA7])
    beats = seat_readings(plan, body, signal_series(vehicle, vss.SPEED), seat)
    vehicle = with_readings(
        vehicle, beats, vss.SEAT_QUALITY, vss.SEAT_HEART_RATE, vss.SEAT_RR_INTERVALS
    )
    start = EPOCH + timedelta(hours=int(rng.integers(0, 24 * 30)))
    # the camera's SpO2 estimate (round 12) likewise; it reads the drive's hour (night)
    camera = np.random.default_rng([seed, 0xCA3E])
    spo2 = camera_estimates(
        plan,
        body,
        signal_series(vehicle, vss.SPEED),
        gaze_series(vehicle),
        is_night(start.hour),
        camera,
    )
    vehicle = with_estimates(vehicle, spo2, vss.CAMERA_QUALITY, vss.CAMERA_SPO2)
    # a device omits a value it does not have (no null: the gateway refuses a message with one)
    samples: list[Sample] = [
        s if None not in s.signals.values() else Sample(s.t, s.source, _present(s.signals))
        for s in heapq.merge(vehicle, wearable, key=lambda s: s.t)
    ]
    labels = Labels(
        scenario=f"drive-{seed:06d}",
        vehicle=f"vehicle-{seed:06d}",
        driver=driver,
        start=start.isoformat().replace("+00:00", "Z"),
        duration=round(plan.duration, 1),
        events=tuple(_rounded(e) for e in plan.events),
        confounders=tuple(_rounded(e) for e in plan.confounders),
        seed=seed,
    )
    return Scenario(labels, samples)


def _present(signals: dict[str, SignalValue]) -> dict[str, SignalValue]:
    return {name: value for name, value in signals.items() if value is not None}


def _rounded(event: Event) -> Event:
    return Event(event.type, round(event.onset, 1), round(event.end, 1), event.detail)
