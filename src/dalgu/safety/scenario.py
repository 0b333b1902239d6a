"""The scenario format: timestamped signals of one drive, and the labels of what happened in it.

A scenario is two files side by side in a directory:

- `<name>.jsonl`: one JSON object a line, in time order,
  `{"t": 12.3, "source": "vehicle", "signals": {"Vehicle.Speed": 71.5, ...}}` where `t` is
  seconds from the start of the drive and `source` is `vehicle` (the telematics unit) or
  `wearable` (the driver's band). A signal absent from a line was not sent then. Files of the
  format before round 8, whose wearable lines carry the band's heart rate as
  `Vehicle.Driver.HeartRate`, are read as they were meant (as `Wearable.HeartRate`).
- `<name>.labels.json`: `{"scenario", "vehicle", "driver", "start" (ISO 8601), "duration" (s),
  "events": [{"type", "onset", "end", "detail"}], "confounders": [...same shape...]}`.

Event types are `drowsiness`, `cardiac`, `hypoxaemia` and `incapacitation`; confounders
(traffic stress, speed bumps, wearable slipping off, telematics gaps, a passenger's phone call)
are listed for the reader and never scored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from dalgu.errors import BadRequestData
from dalgu.safety import signals as vss

Source = Literal["vehicle", "wearable"]
SignalValue = float | bool | list[float] | None
EVENT_TYPES = ("drowsiness", "cardiac", "hypoxaemia", "incapacitation")
MEDICAL_TYPES = ("cardiac", "hypoxaemia", "incapacitation")


@dataclass(frozen=True, slots=True)
class Sample:
    """What one source sent at one time."""

    t: float
    source: Source
    signals: dict[str, SignalValue]


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    onset: float
    end: float
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str:
        """`drowsiness` or `medical`: the two families the targets are set for."""
        return "medical" if self.type in MEDICAL_TYPES else self.type


@dataclass(frozen=True, slots=True)
class Labels:
    scenario: str
    vehicle: str
    driver: str
    start: str
    duration: float
    events: tuple[Event, ...] = ()
    confounders: tuple[Event, ...] = ()
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    labels: Labels
    samples: list[Sample]


def write_scenario(directory: Path, scenario: Scenario) -> Path:
    """Write the two files; returns the signals file."""
    directory.mkdir(parents=True, exist_ok=True)
    name = scenario.labels.scenario
    path = directory / f"{name}.jsonl"
    with path.open("wb") as out:
        for s in scenario.samples:
            out.write(orjson.dumps({"t": round(s.t, 3), "source": s.source, "signals": s.signals}))
            out.write(b"\n")
    (directory / f"{name}.labels.json").write_bytes(
        orjson.dumps(_labels_doc(scenario.labels), option=orjson.OPT_INDENT_2)
    )
    return path


def _labels_doc(labels: Labels) -> dict[str, Any]:
    def event(e: Event) -> dict[str, Any]:
        return {"type": e.type, "onset": e.onset, "end": e.end, "detail": e.detail}

    return {
        "scenario": labels.scenario,
        "vehicle": labels.vehicle,
        "driver": labels.driver,
        "start": labels.start,
        "duration": labels.duration,
        "seed": labels.seed,
        "events": [event(e) for e in labels.events],
        "confounders": [event(e) for e in labels.confounders],
    }


def read_labels(path: Path) -> Labels:
    try:
        doc = orjson.loads(path.read_bytes())
        return Labels(
            scenario=str(doc["scenario"]),
            vehicle=str(doc.get("vehicle", doc["scenario"])),
            driver=str(doc.get("driver", doc["scenario"])),
            start=str(doc.get("start", "2026-01-01T00:00:00Z")),
            duration=float(doc["duration"]),
            events=tuple(_event(e) for e in doc.get("events", [])),
            confounders=tuple(_event(e) for e in doc.get("confounders", [])),
            seed=doc.get("seed"),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise BadRequestData(f"{path.name}: not a labels file ({error})") from None


def _event(doc: dict[str, Any]) -> Event:
    kind = str(doc["type"])
    onset, end = float(doc["onset"]), float(doc["end"])
    if end < onset:
        raise ValueError(f"event {kind} ends before its onset")
    return Event(kind, onset, end, dict(doc.get("detail") or {}))


def iter_samples(path: Path) -> Iterator[Sample]:
    """The samples of a signals file, checked line by line (a bad line names its number)."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
                source = doc["source"]
                if source not in ("vehicle", "wearable"):
                    raise ValueError(f"source {source!r} is not vehicle or wearable")
                signals = doc["signals"]
                if not isinstance(signals, dict):
                    raise ValueError("signals is not an object")
                yield Sample(float(doc["t"]), source, vss.upgraded(source, signals))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                raise BadRequestData(f"{path.name} line {number}: {error}") from None


def read_scenario(signals_path: Path) -> Scenario:
    labels_path = signals_path.with_name(signals_path.name.removesuffix(".jsonl") + ".labels.json")
    if not labels_path.exists():
        raise BadRequestData(f"{signals_path.name} has no labels file {labels_path.name}")
    return Scenario(read_labels(labels_path), list(iter_samples(signals_path)))


def scenario_files(directory: Path) -> list[Path]:
    """The signals files of a scenario directory, in name order."""
    if not directory.is_dir():
        raise BadRequestData(f"{directory} is not a directory")
    return sorted(p for p in directory.glob("*.jsonl"))
