"""Scenario files brought from elsewhere, checked as they are read (from an outside test):
epoch-second times were replayed second by second from 1970 (hours of a core, no output), one
stray t=1e15 the same; lines out of order, an empty file, unknown event types, events outside
the drive, string onsets and a missing `events` were read silently and skewed the figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from dalgu.errors import BadRequestData
from dalgu.safety.scenario import Labels, Sample, Scenario, read_scenario, write_scenario
from tests.safety.crafted import steady_vehicle, steady_wearable

SECONDS = 120


def _drive(tmp_path: Path, name: str = "drive") -> Path:
    samples = []
    for step in range(SECONDS * 10):
        t = step / 10.0
        samples.append(Sample(t, "vehicle", steady_vehicle(t)))
        if step % 10 == 5:
            samples.append(Sample(t, "wearable", steady_wearable(t)))
    labels = Labels(name, "veh", "drv", "2026-03-21T14:00:00Z", float(SECONDS))
    return write_scenario(tmp_path, Scenario(labels, samples))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _write(path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")


def _relabel(path: Path, **changes: Any) -> None:
    labels = path.with_name(path.name.removesuffix(".jsonl") + ".labels.json")
    doc = orjson.loads(labels.read_bytes())
    for key, value in changes.items():
        if value is KeyError:
            doc.pop(key)
        else:
            doc[key] = value
    labels.write_bytes(orjson.dumps(doc))


def test_epoch_second_times_are_read_from_the_drives_first_line(tmp_path: Path) -> None:
    path = _drive(tmp_path)
    lines = _lines(path)
    _write(path, [{**line, "t": 1774100000 + line["t"]} for line in lines])
    scenario = read_scenario(path)
    assert scenario.samples[0].t == 0.0
    assert scenario.samples[-1].t == pytest.approx(lines[-1]["t"])
    assert any("1774100000" in note for note in scenario.notes)


def test_a_stray_huge_time_is_refused_with_its_file_and_line(tmp_path: Path) -> None:
    path = _drive(tmp_path)
    lines = _lines(path)
    lines[500] = {**lines[500], "t": 1e15}
    _write(path, lines)
    with pytest.raises(BadRequestData, match=r"drive.jsonl line 501: t=1e\+15"):
        read_scenario(path)


def test_a_time_past_the_labelled_duration_is_refused(tmp_path: Path) -> None:
    path = _drive(tmp_path)
    lines = _lines(path)
    _write(path, [*lines, {**lines[-1], "t": 3600.0 + SECONDS}])
    with pytest.raises(BadRequestData, match=rf"line {len(lines) + 1}: .* past the drive's"):
        read_scenario(path)


def test_lines_out_of_time_order_are_read_sorted_with_a_note(tmp_path: Path) -> None:
    path = _drive(tmp_path)
    lines = _lines(path)
    lines[10], lines[40] = lines[40], lines[10]
    _write(path, lines)
    scenario = read_scenario(path)
    assert [s.t for s in scenario.samples] == sorted(s.t for s in scenario.samples)
    assert any("out of time order (the first: line 12)" in n for n in scenario.notes)


def test_an_empty_signals_file_is_refused(tmp_path: Path) -> None:
    path = _drive(tmp_path)
    path.write_bytes(b"")
    with pytest.raises(BadRequestData, match=r"drive\.jsonl has no samples"):
        read_scenario(path)


EVENT = {"type": "cardiac", "onset": 60.0, "end": 90.0, "detail": {}}


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"events": [{**EVENT, "type": "seizure"}]}, "type 'seizure' is not an event type"),
        ({"events": [{**EVENT, "onset": 5000.0, "end": 5100.0}]}, "outside the drive"),
        ({"events": [{**EVENT, "onset": -50.0}]}, "outside the drive"),
        ({"events": [{**EVENT, "onset": "60"}]}, "`onset` is '60', not a number"),
        ({"events": [{"type": "cardiac", "onset": 60.0}]}, "event 1 has no `end`"),
        ({"duration": KeyError}, "has no `duration`"),
        ({"seed": "abc"}, "`seed` is 'abc', not an integer"),
        ({"start": "tomorrow"}, "not an ISO 8601 time"),
        ({"vehicle": ""}, "`vehicle` is ''"),
    ],
)
def test_bad_labels_are_refused_saying_what_is_wrong(
    tmp_path: Path, changes: dict[str, Any], said: str
) -> None:
    path = _drive(tmp_path)
    _relabel(path, **changes)
    with pytest.raises(BadRequestData, match=said.replace("(", r"\(").replace("'", "'")) as error:
        read_scenario(path)
    assert "drive.labels.json" in error.value.detail


def test_a_duration_far_past_the_samples_and_overlapping_events_are_noted(tmp_path: Path) -> None:
    path = _drive(tmp_path)
    _relabel(path, duration=36000.0, events=[EVENT, {**EVENT, "onset": 62.0}])
    notes = read_scenario(path).notes
    assert any("duration of 36000 s but its samples end at 119.9 s" in n for n in notes)
    assert any("overlap" in n for n in notes)


def test_labels_without_events_are_read_as_a_drive_without_any_with_a_note(tmp_path: Path) -> None:
    path = _drive(tmp_path)
    _relabel(path, events=KeyError)
    scenario = read_scenario(path)
    assert scenario.labels.events == ()
    assert any("has no `events`" in n for n in scenario.notes)


@pytest.mark.parametrize(
    ("signal", "value", "said"),
    [
        ("Vehicle.Speed", "fast", "Vehicle.Speed is 'fast', not a number"),
        ("Wearable.SignalQuality", "good", "Wearable.SignalQuality is 'good', not a number"),
        ("Wearable.RRIntervals", 800, "Wearable.RRIntervals is 800, not a list of milliseconds"),
    ],
)
def test_a_signal_of_the_wrong_type_is_refused_with_its_line(
    tmp_path: Path, signal: str, value: object, said: str
) -> None:
    path = _drive(tmp_path)
    lines = _lines(path)
    lines[20] = {**lines[20], "signals": {**lines[20]["signals"], signal: value}}
    _write(path, lines)
    with pytest.raises(BadRequestData, match=f"drive.jsonl line 21: {said}"):
        read_scenario(path)


def test_a_signal_no_detector_reads_is_named(tmp_path: Path) -> None:
    path = _drive(tmp_path)
    lines = _lines(path)
    for line in lines:
        if line["source"] == "vehicle":
            line["signals"]["Vehicle.speed"] = line["signals"].pop("Vehicle.Speed")
    _write(path, lines)
    notes = read_scenario(path).notes
    assert any("signal Vehicle.speed is read by no detector" in n for n in notes), notes


def test_a_drive_without_car_samples_is_said_to_be_read_from_the_band_alone(
    tmp_path: Path,
) -> None:
    path = _drive(tmp_path)
    _write(path, [line for line in _lines(path) if line["source"] == "wearable"])
    notes = read_scenario(path).notes
    assert any(n.startswith("no car samples: a collapse at the wheel") for n in notes), notes


def test_a_drive_shorter_than_the_calibration_is_said_to_be_unread_for_drowsiness(
    tmp_path: Path,
) -> None:
    notes = read_scenario(_drive(tmp_path)).notes
    assert any("before the 600 s of calibration" in n for n in notes), notes


def test_a_start_without_a_time_zone_is_read_as_utc_with_a_note(tmp_path: Path) -> None:
    path = _drive(tmp_path)
    _relabel(path, start="2026-12-07T11:00:00")
    scenario = read_scenario(path)
    assert scenario.labels.start == "2026-12-07T11:00:00Z"
    assert "`start` 2026-12-07T11:00:00 has no time zone: read as UTC" in scenario.notes


def test_a_whole_drive_of_the_signals_read_has_no_coverage_note(tmp_path: Path) -> None:
    notes = read_scenario(_drive(tmp_path)).notes  # every signal the car and band send
    assert not any("read by no detector" in n or "no car" in n or "no wearable" in n for n in notes)


def test_a_value_no_sensor_gives_is_noted_with_its_first_line(tmp_path: Path) -> None:
    path = _drive(tmp_path)
    lines = _lines(path)
    cars = [n for n, line in enumerate(lines) if line["source"] == "vehicle"]
    for n in cars[5:8]:
        lines[n]["signals"]["Vehicle.Speed"] = -50
    _write(path, lines)
    notes = read_scenario(path).notes
    assert f"Vehicle.Speed is -50 at line {cars[5] + 1} (and 2 more)" in " ".join(notes), notes
