"""A driver who sets off tired: drowsiness read in a drive's first minutes against the driver's
awake reference kept from an earlier drive."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from dalgu.safety.detectors.awake import DriverBaseline
from dalgu.safety.detectors.base import CALIBRATION
from dalgu.safety.detectors.drowsiness import DrowsinessDetector
from dalgu.safety.detectors.drowsiness_features import AwakeReference
from dalgu.safety.evaluation import learn_drive, replay, replay_drive
from dalgu.safety.generator import generate_scenario
from dalgu.safety.monitor import VehicleMonitor
from dalgu.safety.plan import TIRED
from dalgu.safety.scenario import Scenario
from tests.safety.crafted import run, steady_vehicle, steady_wearable

AWAKE_SEED = 1939  # a quiet drive of driver-010 (tuning seeds)
TIRED_SEED = 1001  # driver-010 sets off tired: the labelled onset 126 s into the drive


def _baseline(scenario: Scenario) -> DriverBaseline:
    _, calibration = replay_drive(scenario)
    assert calibration is not None
    labels = scenario.labels
    start = datetime.fromisoformat(labels.start.replace("Z", "+00:00")).timestamp()
    return DriverBaseline.of(labels.driver, calibration, start + CALIBRATION, labels.vehicle)


@pytest.fixture(scope="module")
def awake() -> DriverBaseline:
    return _baseline(generate_scenario(AWAKE_SEED, duration=700, mix="quiet"))


@pytest.fixture(scope="module")
def tired() -> Scenario:
    return generate_scenario(TIRED_SEED, duration=900, mix="tired")


def test_learning_a_drive_stops_at_its_ten_minutes_and_learns_what_a_whole_replay_does() -> None:
    awake = generate_scenario(AWAKE_SEED, duration=700, mix="quiet")
    whole = replay_drive(awake)[1]
    assert whole is not None and "drowsiness" in whole.profiles
    assert learn_drive(awake) == whole


def test_an_awake_drive_keeps_a_drowsiness_reference_that_round_trips(
    awake: DriverBaseline,
) -> None:
    profile = awake.profiles["drowsiness"]
    assert set(profile) >= {"hrv", "heart", "car", "steeringAlpha"}
    assert 400 < profile["heart"]["mean"] < 1500  # ms between beats: a resting heart
    assert DriverBaseline.from_json(awake.to_json()) == awake
    again = AwakeReference.from_json(profile)
    assert again.to_json() == profile


@pytest.mark.parametrize(
    "broken",
    [
        {"hrv": "x"},
        {"hrv": {"mean": [1.0] * 8, "scale": [1.0] * 8, "loadings": [[1.0]] * 7}},
        {  # more components than features: well formed but no PCA of 8 features
            "hrv": {
                "mean": [1.0] * 8,
                "scale": [1.0] * 8,
                "loadings": [[1.0] * 9] * 8,
                "variances": [1.0] * 9,
                "t2Limit": 1.0,
                "qLimit": 1.0,
            }
        },
        {"heart": {"mean": -3, "scale": 15}},
        {"heart": {"mean": 800, "scale": True}},
        {"car": {"mean": [0.0] * 5, "scale": [1.0, float("nan"), 1, 1, 1]}},
        {"car": {"mean": [0.0] * 4, "scale": [1.0] * 5}},
        {"steeringAlpha": "0.1"},
    ],
)
def test_a_malformed_reference_is_refused(broken: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AwakeReference.from_json(broken)


def test_a_malformed_stored_profile_is_logged_and_the_drive_read_as_a_first_one(
    awake: DriverBaseline, caplog: pytest.LogCaptureFixture
) -> None:
    broken = DriverBaseline(awake.driver, awake.levels, 0.0, None, {"drowsiness": {"hrv": 7}})
    with caplog.at_level(logging.WARNING):
        monitor = VehicleMonitor("v", awake.driver, baseline=broken)
    (detector,) = [d for d in monitor.detectors if isinstance(d, DrowsinessDetector)]
    assert detector.features.reference is None
    assert "drowsiness profile unread" in caplog.text
    # the levels of the other detectors were adopted all the same
    assert monitor.detectors[1].awake_levels()["hypoxaemia.spo2"].known is not None  # type: ignore[attr-defined]


def test_the_tired_mix_starts_a_drowsy_episode_in_the_first_minutes(tired: Scenario) -> None:
    (event,) = tired.labels.events
    assert event.type == "drowsiness" and TIRED[0] <= event.onset < TIRED[1]


def test_a_driver_who_sets_off_tired_is_found_in_the_first_minutes(
    awake: DriverBaseline, tired: Scenario
) -> None:
    (event,) = tired.labels.events
    assert awake.driver == tired.labels.driver
    cold = [a for a in replay(tired) if a.category == "drowsiness"]
    assert all(a.raised > CALIBRATION for a in cold)  # nothing to read against until then
    warm = [a for a in replay(tired, baseline=awake) if a.category == "drowsiness"]
    assert warm, "not found against the stored reference"
    # within the episode's signs (they begin up to 240 s before its labelled onset), and inside
    # the minutes in which, without the stored reference, the drive has nothing to read against
    assert event.onset - 240 <= warm[0].raised < CALIBRATION


def test_a_drive_found_drowsy_early_goes_on_being_read_against_the_stored_reference(
    awake: DriverBaseline, tired: Scenario
) -> None:
    monitor = VehicleMonitor(tired.labels.vehicle, tired.labels.driver, baseline=awake)
    for sample in tired.samples:
        monitor.feed(sample)
    (detector,) = [d for d in monitor.detectors if isinstance(d, DrowsinessDetector)]
    assert detector.features.own is not None  # the drive's own was learnt...
    assert detector.features.stored  # ...and not taken: its first minutes were drowsy
    assert monitor.calibrated is None  # nor kept as the driver's baseline


def test_a_steady_driver_with_a_stored_reference_raises_nothing_in_the_first_minutes() -> None:
    first = VehicleMonitor("v", "d")
    assert run(CALIBRATION + 15, steady_vehicle, steady_wearable, monitor=first) == []
    assert first.calibrated is not None and "drowsiness" in first.calibrated.profiles
    baseline = DriverBaseline.of("d", first.calibrated, 0.0, "v")
    second = VehicleMonitor("v", "d", baseline=baseline)
    assert run(CALIBRATION + 15, steady_vehicle, steady_wearable, monitor=second) == []
    (detector,) = [d for d in second.detectors if isinstance(d, DrowsinessDetector)]
    assert detector.last_evidence, "the first minutes were read against the stored reference"
    assert not detector.features.stored  # and the drive's own reference took over after them
