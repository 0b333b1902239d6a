"""What `dalgu safety evaluate` and `generate` tell a research group bringing its own drives
(from an outside test): seeds in neither range are unknown, not mixed; a kind of event the
drives do not hold has no recall (it read 1.00); each drive's alerts and misses can be listed;
a drive whose band reports less often than the detectors read is said to be; `generate` on a
file is a clear error."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from dalgu.cli.app import app
from dalgu.safety.campaign import CampaignResult
from dalgu.safety.evaluation import report
from dalgu.safety.rates import rate_notes
from dalgu.safety.scenario import Labels, Sample, Scenario, write_scenario
from tests.safety.crafted import steady_vehicle, steady_wearable

SECONDS = 120


@pytest.mark.parametrize(
    ("seeds", "split", "splits"),
    [
        ((9000, 9001), "unknown", {"unknown": 2}),
        ((2000,), "unknown", {"unknown": 1}),
        ((None,), "unknown", {"unknown": 1}),
        ((5000, 9000), "mixed", {"held-out": 1, "unknown": 1}),
        ((1000, 5000), "mixed", {"held-out": 1, "tuning": 1}),
        ((5000,), "held-out", {"held-out": 1}),
    ],
)
def test_seeds_in_neither_range_are_unknown(
    seeds: tuple[int | None, ...], split: str, splits: dict[str, int]
) -> None:
    empty = report([])
    result = CampaignResult(empty, empty, seeds, ())
    assert (result.split, result.splits) == (split, splits)


def _drive(directory: Path, band_every: int = 1) -> None:
    samples = []
    for step in range(SECONDS * 10):
        t = step / 10.0
        samples.append(Sample(t, "vehicle", steady_vehicle(t)))
        if step % (10 * band_every) == 5:
            samples.append(Sample(t, "wearable", steady_wearable(t)))
    labels = Labels("quiet", "veh", "drv", "2026-03-21T14:00:00Z", float(SECONDS), seed=9000)
    write_scenario(directory, Scenario(labels, samples))


def test_rows_without_events_have_no_recall_and_drives_are_listed(tmp_path: Path) -> None:
    _drive(tmp_path)
    out = tmp_path / "figures.json"
    args = ["safety", "evaluate", "-s", str(tmp_path), "--workers", "1", "--json", str(out)]
    done = CliRunner().invoke(app, [*args, "--details"])
    assert done.exit_code == 0, done.output
    assert "seeds: unknown set (1 unknown)" in done.output
    assert re.search(r"│ medical\s+│\s+0 │\s+- │\s+- │\s+- │", done.output), done.output
    assert "quiet:" in done.output
    document = orjson.loads(out.read_bytes())
    assert document["detectors"]["medical"]["recall"] is None
    assert document["drives"] == [
        {
            "scenario": "quiet",
            "notes": [
                "its samples end at 119.9 s, before the 600 s of calibration: drowsiness is "
                "read only against a stored baseline of its driver (--baselines-from)"
            ],
            "detected": [],
            "missed": [],
            "falseAlarms": [],
            "alerts": [],
        }
    ]


def test_a_band_reporting_every_four_seconds_is_said_to_be_unread(tmp_path: Path) -> None:
    _drive(tmp_path, band_every=4)
    done = CliRunner().invoke(app, ["safety", "evaluate", "-s", str(tmp_path), "--workers", "1"])
    assert done.exit_code == 0, done.output
    said = _said(done.output)
    assert "quiet: the band reports every 4.0 s" in said


def test_the_rates_the_detectors_read_raise_no_note() -> None:
    assert rate_notes(10.0, 1.0) == rate_notes(2.0, 2.0)[1:] == []
    assert len(rate_notes(1.0, 3.0)) == 2


def test_generate_into_a_file_or_a_reversed_range_is_a_clear_error(tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    done = CliRunner().invoke(app, ["safety", "generate", "--out", str(a_file), "--seeds", "5000"])
    assert done.exit_code == 2 and "is a file, not a directory" in _said(done.output)
    done = CliRunner().invoke(
        app, ["safety", "generate", "--out", str(tmp_path / "d"), "--seeds", "5010-5000"]
    )
    assert done.exit_code == 2 and "reversed range" in _said(done.output)


def _said(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


def test_generated_drives_have_no_nulls() -> None:
    from dalgu.safety.generator import generate_scenario

    scenario = generate_scenario(9000, duration=900, mix="medical")
    assert not [s.t for s in scenario.samples if None in s.signals.values()]


def test_baselines_from_says_how_many_drives_found_one(tmp_path: Path) -> None:
    _drive(tmp_path / "drives")
    _drive(tmp_path / "awake")
    args = ["safety", "evaluate", "-s", str(tmp_path / "drives"), "--workers", "1"]
    done = CliRunner().invoke(app, [*args, "--baselines-from", str(tmp_path / "awake")])
    assert done.exit_code == 0, done.output
    said = _said(done.output)
    assert "0 of 1 drives read against a stored baseline" in said
    assert "no baseline of its driver 'drv' was found" in said
