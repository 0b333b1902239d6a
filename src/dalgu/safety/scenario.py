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

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson

from dalgu.errors import BadRequestData
from dalgu.safety import signals as vss
from dalgu.safety.plausibility import implausible

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
    notes: tuple[str, ...] = ()  # what a reader should know of how the files were read


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


EPOCH_LIKE = 1e6  # s: a first t this large is a clock's (epoch seconds), not the drive's
MAX_JUMP = 86400.0  # s: a line this far after the one before it is a wrong t, not a gap


def _slack(duration: float) -> float:
    """How far past the labels' duration a sample or an event may lie."""
    return max(60.0, 0.1 * duration)


def _number(doc: dict[str, Any], key: str, where: str) -> float:
    if key not in doc:
        raise ValueError(f"{where} has no `{key}`")
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: `{key}` is {value!r}, not a number of seconds")
    return float(value)


def _text(doc: dict[str, Any], key: str, default: str) -> str:
    value = doc.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{key}` is {value!r}, not a non-empty string")
    return value


def read_labels(path: Path) -> Labels:
    """A labels file, checked: a missing or mistyped field is named, with its event."""
    try:
        doc = orjson.loads(path.read_bytes())
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        scenario = _text(doc, "scenario", "")
        if not scenario:
            raise ValueError("has no `scenario`")
        duration = _number(doc, "duration", "the labels")
        if duration <= 0:
            raise ValueError(f"`duration` is {duration:g}, not a positive number of seconds")
        start = _text(doc, "start", "2026-01-01T00:00:00Z")
        try:
            datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"`start` is {start!r}, not an ISO 8601 time") from None
        seed = doc.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` is {seed!r}, not an integer")
        events = _events(doc.get("events", []), "events", duration, EVENT_TYPES)
        return Labels(
            scenario=scenario,
            vehicle=_text(doc, "vehicle", scenario),
            driver=_text(doc, "driver", scenario),
            start=start,
            duration=duration,
            events=events,
            confounders=_events(doc.get("confounders") or [], "confounders", duration, None),
            seed=seed,
        )
    except (orjson.JSONDecodeError, ValueError) as error:
        raise BadRequestData(f"{path.name}: not a labels file: {error}") from None


def _events(
    docs: Any, key: str, duration: float, kinds: tuple[str, ...] | None
) -> tuple[Event, ...]:
    if not isinstance(docs, list):
        raise ValueError(f"`{key}` is not a list")
    out = []
    for number, doc in enumerate(docs, 1):
        where = f"{key[:-1]} {number}"
        if not isinstance(doc, dict):
            raise ValueError(f"{where} is not an object")
        kind = doc.get("type")
        if not isinstance(kind, str) or (kinds is not None and kind not in kinds):
            allowed = f" (one of {', '.join(kinds)})" if kinds else ""
            raise ValueError(f"{where}: type {kind!r} is not an event type{allowed}")
        onset, end = _number(doc, "onset", where), _number(doc, "end", where)
        if end < onset:
            raise ValueError(f"{where}: event {kind} ends before its onset")
        if onset < 0 or onset > duration + _slack(duration):
            raise ValueError(
                f"{where}: {kind} begins at {onset:g} s, outside the drive (0-{duration:g} s)"
            )
        detail = doc.get("detail") or {}
        if not isinstance(detail, dict):
            raise ValueError(f"{where}: `detail` is not an object")
        out.append(Event(kind, onset, end, dict(detail)))
    return tuple(out)


def iter_samples(path: Path) -> Iterator[Sample]:
    """The samples of a signals file, checked line by line (a bad line names its number)."""
    for _, sample in _numbered_samples(path):
        yield sample


def _numbered_samples(path: Path) -> Iterator[tuple[int, Sample]]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
                if not isinstance(doc, dict):
                    raise ValueError("not a JSON object")
                source = doc["source"]
                if source not in ("vehicle", "wearable"):
                    raise ValueError(f"source {source!r} is not vehicle or wearable")
                signals = doc["signals"]
                if not isinstance(signals, dict):
                    raise ValueError("signals is not an object")
                for signal, value in signals.items():
                    _check_value(signal, value)
                t = doc["t"]
                if isinstance(t, bool) or not isinstance(t, int | float):
                    raise ValueError(f"t is {t!r}, not a number of seconds")
                yield number, Sample(float(t), source, vss.upgraded(source, signals))
            except KeyError as error:
                raise BadRequestData(f"{path.name} line {number}: no {error}") from None
            except (orjson.JSONDecodeError, TypeError, ValueError) as error:
                raise BadRequestData(f"{path.name} line {number}: {error}") from None


_LISTS = frozenset((vss.RR_INTERVALS, vss.CABIN_RR_INTERVALS, vss.SEAT_RR_INTERVALS))


def _check_value(signal: str, value: object) -> None:
    """A signal's value is a number, a boolean, a list of numbers (R-R intervals) or null; the
    detectors read anything else as missing, so it is refused rather than lost silently."""
    if signal in _LISTS:
        if value is not None and (
            not isinstance(value, list)
            or any(isinstance(x, bool) or not isinstance(x, int | float) for x in value)
        ):
            raise ValueError(f"{signal} is {value!r}, not a list of milliseconds")
    elif value is not None and not isinstance(value, bool | int | float):
        raise ValueError(f"{signal} is {value!r}, not a number or a boolean")


def read_scenario(signals_path: Path) -> Scenario:
    """A scenario's labels and samples, checked against each other. A file that cannot be
    meant as written is refused (file and line); what can be read is read, with a note."""
    labels_path = signals_path.with_name(signals_path.name.removesuffix(".jsonl") + ".labels.json")
    if not labels_path.exists():
        raise BadRequestData(f"{signals_path.name} has no labels file {labels_path.name}")
    labels = read_labels(labels_path)
    name = signals_path.name
    numbered = list(_numbered_samples(signals_path))
    if not numbered:
        raise BadRequestData(f"{name} has no samples")
    notes: list[str] = []
    if b'"events"' not in labels_path.read_bytes():
        notes.append(f"{labels_path.name} has no `events`: read as a drive without any")
    if labels.scenario != name.removesuffix(".jsonl"):
        notes.append(f"its labels name the scenario {labels.scenario!r}")
    shift = 0.0
    if numbered[0][1].t >= EPOCH_LIKE:  # epoch seconds: read from the drive's first line
        shift = float(int(numbered[0][1].t))
        notes.append(f"t read as seconds after the first line's t={shift:.0f}")
    limit = labels.duration + _slack(labels.duration)
    newest = -math.inf
    disordered: list[int] = []
    samples = []
    odd: dict[str, tuple[int, int, object]] = {}  # signal -> (lines, first line, its value)
    for number, sample in numbered:
        for signal, value in implausible(sample.signals):
            lines, first, shown = odd.get(signal, (0, number, value))
            odd[signal] = (lines + 1, first, shown)
        t = sample.t - shift
        if t > newest + MAX_JUMP and newest > -math.inf:
            raise BadRequestData(
                f"{name} line {number}: t={sample.t:g} is {t - newest:.3g} s after the line "
                "before; t is seconds from the drive's start"
            )
        if t > limit:
            raise BadRequestData(
                f"{name} line {number}: t={sample.t:g} is past the drive's duration "
                f"({labels.duration:g} s in {labels_path.name}); t is seconds from its start"
            )
        if t < newest:
            disordered.append(number)
        newest = max(newest, t)
        samples.append(Sample(t, sample.source, sample.signals) if shift else sample)
    if disordered:
        samples.sort(key=lambda s: s.t)
        notes.append(
            f"{len(disordered)} lines out of time order (the first: line {disordered[0]}), "
            "read sorted"
        )
    if labels.duration > newest + _slack(labels.duration):
        notes.append(
            f"its labels give a duration of {labels.duration:g} s but its samples end at "
            f"{newest:g} s: the rates per hour count {labels.duration:g} s"
        )
    notes.extend(_overlaps(labels.events))
    notes.extend(_coverage(samples, newest))
    for signal, (lines, first, value) in odd.items():
        more = f" (and {lines - 1} more)" if lines > 1 else ""
        notes.append(
            f"{signal} is {value!r} at line {first}{more}: no sensor gives that (a unit or "
            "export fault?); read as given"
        )
    if _without_zone(labels.start):
        notes.append(f"`start` {labels.start} has no time zone: read as UTC")
        labels = replace(labels, start=labels.start + "Z")
    return Scenario(labels, samples, tuple(notes))


#: every signal some detector reads (the old wearable heart rate is renamed as it is read)
READ_SIGNALS = frozenset((*vss.VEHICLE_SIGNALS, *vss.WEARABLE_SIGNALS))


def _coverage(samples: list[Sample], end: float) -> list[str]:
    """What the detectors cannot read of this drive: signals under names none of them reads,
    a source missing altogether, a drive shorter than the calibration minutes."""
    from dalgu.safety.detectors.base import CALIBRATION  # the detectors read Samples: a cycle

    notes = []
    unread = sorted({name for s in samples for name in s.signals} - READ_SIGNALS)
    if unread:
        named = ", ".join(unread[:3]) + (f" and {len(unread) - 3} more" if len(unread) > 3 else "")
        notes.append(
            f"{'signals' if len(unread) > 1 else 'signal'} {named} "
            f"{'are' if len(unread) > 1 else 'is'} read by no detector (a misspelt name, or "
            "another VSS version's path? docs/safety.md lists the signals read)"
        )
    sources = {s.source for s in samples}
    if "vehicle" not in sources:
        notes.append(
            "no car samples: a collapse at the wheel is not detected, and drowsiness is read "
            "from the band alone"
        )
    if "wearable" not in sources:
        notes.append(
            "no wearable samples: the heart and SpO2 are read from the car's own sensors, "
            "when it has them"
        )
    if end < CALIBRATION:
        notes.append(
            f"its samples end at {end:g} s, before the {CALIBRATION:g} s of calibration: "
            "drowsiness is read only against a stored baseline of its driver (--baselines-from)"
        )
    return notes


def _without_zone(start: str) -> bool:
    """Whether an ISO 8601 time (already checked) gives no offset from UTC."""
    return datetime.fromisoformat(start.replace("Z", "+00:00")).tzinfo is None


def _overlaps(events: tuple[Event, ...]) -> list[str]:
    notes = []
    ordered = sorted(events, key=lambda e: (e.category, e.onset))
    for a, b in itertools.pairwise(ordered):
        if a.category == b.category and b.onset < a.end:
            notes.append(
                f"events {a.type} at {a.onset:g} s and {b.type} at {b.onset:g} s overlap: "
                "one alert can detect both"
            )
    return notes


def scenario_files(directory: Path) -> list[Path]:
    """The signals files of a scenario directory, in name order."""
    if not directory.is_dir():
        raise BadRequestData(f"{directory} is not a directory")
    return sorted(p for p in directory.glob("*.jsonl"))
