"""The car's own heart-rate sensor (`Vehicle.Driver.HeartRate`) as a second heart source: used
when the band is lost or poor, behind its own quality gate; and the generator's model of it."""

from __future__ import annotations

import numpy as np
import orjson

from dalgu.safety import signals as vss
from dalgu.safety.generator import generate_scenario
from dalgu.safety.scenario import Event, read_scenario
from dalgu.safety.service import config_groups
from tests.safety.crafted import (
    EVENT,
    Signals,
    band_off,
    run,
    steady_vehicle,
    steady_wearable,
)


def with_cabin(t: float, quality: float, rate: float | None) -> Signals:
    """The steady car, with the in-cabin sensor's reading in the sample of its second."""
    signals: Signals = dict(steady_vehicle(t))
    if round(t * 10) % 10 == 3:  # the sensor reports once a second
        signals[vss.DRIVER_HEART_RATE_QUALITY] = quality
        if rate is not None:
            signals[vss.DRIVER_HEART_RATE] = rate
    return signals


def test_band_lost_and_the_car_sees_tachycardia_is_a_cardiac_alert() -> None:
    def vehicle(t: float) -> Signals:
        return with_cabin(t, 0.8, 172.0 if t >= EVENT else 72.0)

    alerts = run(EVENT + 30, vehicle, band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "tachycardia")]
    assert EVENT <= alerts[0].raised <= EVENT + 4
    assert alerts[0].evidence["source"] == "vehicle"


def test_band_lost_and_the_car_sees_bradycardia_is_a_cardiac_alert() -> None:
    def vehicle(t: float) -> Signals:
        return with_cabin(t, 0.8, 33.0 if t >= EVENT else 72.0)

    alerts = run(EVENT + 30, vehicle, band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "bradycardia")]


def test_band_lost_and_a_flat_ecg_under_both_hands_is_asystole() -> None:
    def vehicle(t: float) -> Signals:
        return with_cabin(t, 0.8, None if t >= EVENT else 72.0)

    alerts = run(EVENT + 30, vehicle, band_off)
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "asystole")]
    assert alerts[0].raised <= EVENT + 5


def test_car_contact_lost_with_the_band_fine_is_nothing() -> None:
    def vehicle(t: float) -> Signals:
        return with_cabin(t, 0.0, None) if t >= EVENT else with_cabin(t, 0.8, 72.0)

    assert run(EVENT + 120, vehicle, steady_wearable) == []


def test_both_lost_while_driving_normally_is_nothing() -> None:
    def vehicle(t: float) -> Signals:
        return with_cabin(t, 0.0, None) if t >= EVENT else with_cabin(t, 0.8, 72.0)

    assert run(EVENT + 120, vehicle, band_off) == []


def test_contact_regained_while_the_sensor_fills_its_window_is_not_asystole() -> None:
    def vehicle(t: float) -> Signals:
        if t < EVENT:
            return with_cabin(t, 0.8, 72.0)
        if t < EVENT + 10:  # hands off, then back: no rate for 5 s while it averages
            return with_cabin(t, 0.0, None)
        return with_cabin(t, 0.8, None if t < EVENT + 15 else 72.0)

    assert run(EVENT + 60, vehicle, band_off) == []


def test_fast_or_slow_readings_of_a_spoiled_contact_are_not_believed() -> None:
    def vehicle(t: float) -> Signals:
        if EVENT <= t < EVENT + 20:  # a bump, a poor grip: garbage at a low quality index
            return with_cabin(t, 0.2, 185.0 if int(t) % 2 else 30.0)
        return with_cabin(t, 0.8, 72.0)

    assert run(EVENT + 60, vehicle, band_off) == []


def test_the_car_is_not_read_while_the_band_is_good() -> None:
    def vehicle(t: float) -> Signals:
        return with_cabin(t, 0.8, 172.0 if t >= EVENT else 72.0)

    assert run(EVENT + 60, vehicle, steady_wearable) == []


def test_a_scenario_file_of_the_old_format_reads_its_wearable_heart_rate_as_the_bands(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    lines = [
        {"t": 0.1, "source": "vehicle", "signals": {vss.SPEED: 50.0}},
        {
            "t": 0.5,
            "source": "wearable",
            "signals": {vss.SIGNAL_QUALITY: 0.9, vss.IS_WORN: True, "Vehicle.Driver.HeartRate": 74},
        },
    ]
    (tmp_path / "old.jsonl").write_bytes(b"\n".join(orjson.dumps(x) for x in lines))
    (tmp_path / "old.labels.json").write_bytes(orjson.dumps({"scenario": "old", "duration": 1}))
    car, band = read_scenario(tmp_path / "old.jsonl").samples
    assert band.signals == {vss.SIGNAL_QUALITY: 0.9, vss.IS_WORN: True, vss.HEART_RATE: 74}
    assert vss.DRIVER_HEART_RATE not in car.signals


def test_config_groups_map_the_cars_and_the_bands_heart_rates_apart() -> None:
    vehicles, bands = config_groups("v", "w")["services"]
    car = {a["object_id"]: a["name"] for a in vehicles["attributes"]}
    band = {a["object_id"]: a["name"] for a in bands["attributes"]}
    assert car[vss.DRIVER_HEART_RATE] == "driverHeartRate"
    assert car[vss.DRIVER_HEART_RATE_QUALITY] == "driverHeartRateQuality"
    assert band[vss.HEART_RATE] == "heartRate"
    assert band["Vehicle.Driver.HeartRate"] == "heartRate"  # a band of the old format


def cabin_series(seed: int, events: list[Event]) -> list[tuple[float, float, float | None]]:
    scenario = generate_scenario(seed, duration=1200, events=events)
    return [
        (s.t, float(s.signals[vss.DRIVER_HEART_RATE_QUALITY]), s.signals.get(vss.DRIVER_HEART_RATE))  # type: ignore[arg-type]
        for s in scenario.samples
        if s.source == "vehicle" and vss.DRIVER_HEART_RATE_QUALITY in s.signals
    ]


def test_the_generated_sensor_tracks_the_rate_with_contact_most_of_the_time() -> None:
    readings = cabin_series(1001, [])
    rates = [r for _, q, r in readings if q >= 0.5 and r is not None]
    assert 0.5 < len(rates) / len(readings) < 0.9  # hands come and go
    assert 45 < float(np.median(rates)) < 110
    assert readings == cabin_series(1001, [])  # the seed gives the same sensor


def test_the_generated_sensor_sees_a_stopped_heart_then_loses_the_hands() -> None:
    onset = 900.0
    readings = cabin_series(1002, [Event("cardiac", onset, onset + 60, {"subtype": "asystole"})])
    after = [(t, q, r) for t, q, r in readings if t > onset + 5]
    assert after and all(r is None for _, _, r in after)  # no beats, no rate
    assert all(q == 0.0 for t, q, _ in after if t > onset + 12)  # the hands fell off


def test_the_live_service_reads_a_band_of_the_old_format_and_the_cars_sensor() -> None:
    from datetime import UTC, datetime, timedelta

    from dalgu.devices.traffic import MessageEvent
    from dalgu.safety.service import SafetyService

    start = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)

    def stamp(t: float) -> str:
        return (start + timedelta(seconds=t)).isoformat().replace("+00:00", "Z")

    service = SafetyService(entities=None, terms=None)  # type: ignore[arg-type]
    for second in range(5):
        cars = tuple(
            (with_cabin(second + k / 10, 0.8, 71.0), stamp(second + k / 10)) for k in range(10)
        )
        old_band = {vss.IS_WORN: True, vss.SIGNAL_QUALITY: 0.9, "Vehicle.Driver.HeartRate": 74}
        received = (start + timedelta(seconds=second + 1)).timestamp()
        service.observe(MessageEvent("car", "veh-1", "mqtt", received, received, cars))
        service.observe(
            MessageEvent(
                "band",
                "veh-1-wearable",
                "mqtt",
                received,
                received,
                ((old_band, stamp(second + 0.5)),),
            )
        )
    seconds = list(service.monitors[("", "veh-1")].history.seconds)
    band = [s.heart_rate for s in seconds if s.wearable]
    car = [(s.cabin_heart_rate, s.cabin_quality) for s in seconds if s.cabin_quality is not None]
    assert band and set(band) == {74.0}  # the band's rate, as it meant
    assert car and set(car) == {(71.0, 0.8)}  # the car's own
