"""Learning the drowsiness model: from tuning drives only, labelled and fitted as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dalgu.cli.app import app
from dalgu.errors import BadRequestData
from dalgu.safety.detectors.drowsiness_features import FEATURES
from dalgu.safety.generator import generate_scenario
from dalgu.safety.scenario import Event, write_scenario
from dalgu.safety.training import Recording, fit_logistic, raised, record_files, targets


def test_held_out_drives_are_refused_for_training(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, generate_scenario(5000, duration=900))
    with pytest.raises(BadRequestData, match="not tuning seeds"):
        record_files([path])
    result = CliRunner().invoke(
        app, ["safety", "fit-drowsiness", "--scenarios", str(tmp_path), "--out", "m.json"]
    )
    assert result.exit_code == 2 and "not tuning seeds" in result.output


def test_a_tuning_drive_is_recorded_every_ten_seconds_after_the_baseline(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, generate_scenario(1000, duration=900))
    (recording,) = record_files([path])
    assert recording.seed == 1000
    assert recording.x.shape == (len(recording.times), len(FEATURES))
    assert recording.times[0] == 610 and set(np.diff(recording.times)) == {10}


def test_windows_are_labelled_drowsy_awake_or_left_out() -> None:
    times = np.arange(600.0, 1800.0, 10.0)
    recording = Recording(
        1000,
        1800.0,
        (Event("drowsiness", 1000, 1200), Event("cardiac", 1500, 1600)),
        times,
        np.zeros((len(times), len(FEATURES))),
    )
    y, weight = targets(recording)
    at = {float(t): (float(a), float(w)) for t, a, w in zip(times, y, weight, strict=True)}
    assert at[700.0] == (0.0, 1.0)  # awake
    assert at[800.0] == (0.0, 0.0)  # the lead-in: the body is on its way, left out
    assert at[880.0] == (1.0, 1.0)  # from two minutes before the labelled onset
    assert at[1200.0] == (1.0, 1.0)
    assert at[1250.0] == (0.0, 0.0)  # just after the episode
    assert at[1400.0] == (0.0, 1.0)
    assert at[1500.0][1] == 0.0  # a medical emergency is not an awake driver


def test_logistic_fit_finds_the_informative_feature() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (2000, 2))
    y = (x[:, 0] + 0.3 * rng.normal(0, 1, 2000) > 1.0).astype(float)
    w, b = fit_logistic(x, y, np.ones(2000))
    assert w[0] > 3 and abs(w[1]) < 0.3 and b < -2


def test_alerts_are_one_per_episode_under_the_hold() -> None:
    times = np.arange(0.0, 2000.0, 10.0)
    log_odds = np.full(len(times), -5.0)
    log_odds[(times >= 300) & (times < 500)] = 3.0  # one long episode
    log_odds[(times >= 1500) & (times < 1520)] = 3.0  # another, well after the hold
    assert raised(times, log_odds, drift=1.0, limit=3.0) == [310.0, 1510.0]


def test_an_episode_that_grows_well_beyond_its_alert_escalates_once() -> None:
    times = np.arange(0.0, 2000.0, 10.0)
    log_odds = np.full(len(times), -5.0)
    log_odds[(times >= 300) & (times < 900)] = 3.0
    log_odds[(times >= 600) & (times < 900)] = 5.5  # 2.5 above what raised the alert
    log_odds[(times >= 700) & (times < 900)] = 9.0  # and more: no third alert
    assert raised(times, log_odds, drift=1.0, limit=3.0) == [310.0, 600.0]
