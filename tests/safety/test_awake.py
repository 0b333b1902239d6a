"""The first ten minutes of a drive: a driver's awake levels before the drive's own are learnt."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dalgu.cli.app import app
from dalgu.safety import signals as vss
from dalgu.safety.campaign import learn_baselines
from dalgu.safety.detectors.awake import AwakeLevel, DriverBaseline
from dalgu.safety.generator import generate_scenario
from dalgu.safety.plan import CALIBRATION, MEDICAL_KINDS
from dalgu.safety.plan import EARLY as PLAN_EARLY
from dalgu.safety.scenario import Event, scenario_files, write_scenario
from tests.safety.crafted import collapsing_from, run, steady_vehicle, steady_wearable

EARLY = 150.0  # s into the drive: well inside the ten minutes the drive's baseline takes


def test_a_level_is_provisional_then_the_drives_own_median() -> None:
    level = AwakeLevel(least=3, floor=0.5, fallback=3.0)
    assert level.level is None  # nothing yet: the detector uses its population bars
    for value in (2.0, 1.0):
        level.observe(value)
    assert level.level is None
    level.observe(4.0)
    assert level.level == 2.0  # a provisional median of the first values
    level.observe(0.1)
    level.observe(0.2)
    level.settle()
    assert level.level == 1.0 and level.learnt == 1.0 and level.settled
    level.observe(9.0)  # after the calibration minutes nothing more is learnt
    assert level.level == 1.0


def test_a_stored_level_serves_until_the_drive_has_its_own() -> None:
    level = AwakeLevel(least=2, fallback=3.0)
    level.known = 1.7
    level.observe(5.0)
    level.observe(5.0)
    assert level.level == 1.7  # the driver's stored level beats a provisional median
    level.settle()
    assert level.level == 5.0  # and the drive's own beats the stored one


def test_a_drive_that_gave_no_value_falls_back_on_the_stored_level_then_the_default() -> None:
    cold, stored = AwakeLevel(fallback=3.0), AwakeLevel(fallback=3.0)
    stored.known = 1.2
    for level in (cold, stored):
        level.settle()
    assert (cold.level, cold.measured, cold.learnt) == (3.0, None, None)
    assert (stored.level, stored.measured, stored.learnt) == (1.2, 1.2, None)


def test_a_level_needs_its_minimum_to_settle() -> None:
    level = AwakeLevel(least=60, minimum=60)
    for _ in range(59):
        level.observe(97.0)
    level.settle()
    assert level.level is None


def test_a_baseline_round_trips_and_refuses_what_is_not_one() -> None:
    baseline = DriverBaseline("urn:ngsi-ld:Person:d1", {"hypoxaemia.spo2": 96.5}, 1.7e9, "v1")
    assert DriverBaseline.from_json(baseline.to_json()) == baseline
    for bad in ({"levels": {}}, {"driver": "d", "levels": {"x": "97"}}, {"driver": "d"}):
        with pytest.raises(ValueError):
            DriverBaseline.from_json(bad)


def test_a_desaturation_in_the_third_minute_is_found() -> None:
    def wearable(t: float) -> dict[str, object]:
        signals = steady_wearable(t)
        if t >= EARLY:
            signals[vss.SPO2] = 84.0
        return signals

    alerts = run(EARLY + 20, steady_vehicle, wearable)  # type: ignore[arg-type]
    assert [a.type for a in alerts] == ["hypoxaemia"]
    assert alerts[0].raised - EARLY <= 8


def test_the_camera_reads_a_desaturation_in_the_third_minute_with_no_band() -> None:
    def vehicle(t: float) -> dict[str, object]:
        signals: dict[str, object] = dict(steady_vehicle(t))
        signals[vss.CAMERA_QUALITY] = 0.8
        signals[vss.CAMERA_SPO2] = 80.0 if t >= EARLY else 96.0
        return signals

    alerts = run(EARLY + 20, vehicle, lambda t: None)  # type: ignore[arg-type]
    assert [(a.type, a.evidence.get("sensor")) for a in alerts] == [("hypoxaemia", "camera")]


def test_a_still_wheel_in_the_third_minute_is_incapacitation() -> None:
    alerts = run(EARLY + 20, collapsing_from(EARLY), steady_wearable)
    assert [a.type for a in alerts] == ["incapacitation"]
    assert alerts[0].raised - EARLY <= 8


def test_a_steady_driver_raises_nothing_while_the_levels_are_learnt() -> None:
    assert run(650, steady_vehicle, steady_wearable) == []


def test_the_early_mix_puts_every_kind_of_emergency_in_the_first_ten_minutes() -> None:
    kinds = set()
    for seed in range(1000, 1006):
        labels = generate_scenario(seed, mix="early").labels
        (event,) = labels.events
        assert PLAN_EARLY <= event.onset < CALIBRATION and event.category == "medical"
        assert labels.duration <= event.end + 1  # the emergency ends the drive
        assert all(c.end > c.onset for c in labels.confounders)
        kinds.add(event.detail["subtype"])
    assert kinds == {subtype for _, subtype in MEDICAL_KINDS}


def test_a_schedule_may_start_an_emergency_early_but_not_drowsiness() -> None:
    early = Event("hypoxaemia", 120.0, 200.0, {"subtype": "desaturation"})
    assert generate_scenario(7, duration=900, events=[early]).labels.events[0].onset == 120.0
    with pytest.raises(ValueError):
        generate_scenario(7, duration=900, events=[Event("drowsiness", 300.0, 700.0)])


def test_drivers_baselines_are_learnt_from_awake_drives_and_used_by_evaluate(
    tmp_path: Path,
) -> None:
    awake, early = tmp_path / "awake", tmp_path / "early"
    quiet = generate_scenario(1201, duration=700, mix="quiet")
    write_scenario(awake, quiet)
    baselines = learn_baselines(scenario_files(awake))
    learnt = baselines[quiet.labels.driver]
    assert set(learnt.levels) >= {"hypoxaemia.spo2", "incapacitation.steeringActivity"}
    assert learnt.learnt_at > 0 and learnt.vehicle == quiet.labels.vehicle
    write_scenario(early, generate_scenario(1202, mix="early"))
    done = CliRunner().invoke(
        app,
        [
            "safety",
            "evaluate",
            "--scenarios",
            str(early),
            "--baselines-from",
            str(awake),
            "--workers",
            "1",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "drivers' baselines: 1 drivers, from 1 drives" in done.output
