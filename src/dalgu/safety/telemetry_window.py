"""A telemetry window: one message a second carrying the second's 10 Hz samples, VSS-named.

A telematics unit that samples at 10 Hz may send each second's samples as one IoT Agent JSON
measure group instead of ten:

    {"TimeInstant": "2026-12-03T23:40:00.900Z",
     "Vehicle.Speed": 71.6, "Vehicle.Chassis.SteeringWheel.Angle": -1.2, ...,
     "samples": {"t": [-900, -800, ..., 0],
                 "Vehicle.Speed": [71.2, 71.3, ..., 71.6],
                 "Vehicle.Chassis.SteeringWheel.Angle": [-0.8, ..., -1.2], ...}}

- The top-level members are each signal's newest value in the window and `TimeInstant` the
  newest sample's time: what an IoT Agent maps to the `Vehicle` entity (one update a second;
  `speed`, `steeringWheelAngle`, ... keep their plain values, so queries and subscriptions on
  them work as before). A signal sent less often than the samples (the position, the car's
  heart-rate sensor, about once a second) is on top with its latest value in the window.
- `samples` holds the window, column by column: `t` is each sample's time in milliseconds
  relative to `TimeInstant` (≤ 0, oldest first), and each VSS path a list of the same length
  (`null` where a sample lacks that signal). The config group does not map `samples` (it is
  dropped by `explicitAttrs`), unless asked to keep it as a JSON property.

The safety service reads the window, so its detectors see every sample with its own time; the
gateway and the store handle one measure group per vehicle-second instead of ten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dalgu.errors import BadRequestData
from dalgu.safety.scenario import SignalValue

SAMPLES = "samples"  # the member holding the window
OFFSETS = "t"  # the window's column of sample times, ms relative to TimeInstant
TIME_INSTANT = "TimeInstant"


def window_group(samples: Sequence[tuple[float, dict[str, SignalValue]]]) -> dict[str, Any]:
    """One measure group from the (time, signals) samples of a window, oldest first: each
    signal's newest value on top (the newest sample's time under "t", for the caller to stamp)
    and the window."""
    if not samples:
        raise ValueError("a window holds at least one sample")
    newest_t = samples[-1][0]
    names: list[str] = []
    for _, signals in samples:
        names.extend(n for n in signals if n not in names)
    window: dict[str, list[Any]] = {OFFSETS: [round((t - newest_t) * 1000.0) for t, _ in samples]}
    for name in names:
        window[name] = [signals.get(name) for _, signals in samples]
    values: dict[str, Any] = {}
    for _, signals in samples:  # each signal's newest value (a 1 Hz one is in one sample)
        values.update((k, v) for k, v in signals.items() if v is not None)
    return {**values, SAMPLES: window, "t": newest_t}


def window_samples(
    values: dict[str, Any], newest: float
) -> list[tuple[float, dict[str, SignalValue]]] | None:
    """The samples of a measure group's window (times in the epoch seconds of `newest`, the
    group's TimeInstant), oldest first; None when the group has no window. A malformed window
    raises `BadRequestData`."""
    window = values.get(SAMPLES)
    if window is None:
        return None
    if not isinstance(window, dict):
        raise BadRequestData(f"{SAMPLES} must be an object of columns")
    offsets = window.get(OFFSETS)
    if not isinstance(offsets, list) or not offsets:
        raise BadRequestData(f"{SAMPLES}.{OFFSETS} must be a non-empty list of milliseconds")
    columns = []
    for name, column in window.items():
        if name == OFFSETS:
            continue
        if not isinstance(column, list) or len(column) != len(offsets):
            raise BadRequestData(f"{SAMPLES}.{name} must be a list as long as {OFFSETS}")
        columns.append((name, column))
    out: list[tuple[float, dict[str, SignalValue]]] = []
    for index, offset in enumerate(offsets):
        if isinstance(offset, bool) or not isinstance(offset, int | float):
            raise BadRequestData(f"{SAMPLES}.{OFFSETS} holds {offset!r}, not milliseconds")
        signals = {name: column[index] for name, column in columns if column[index] is not None}
        out.append((newest + offset / 1000.0, signals))
    # a signal on top without a column of its own (the position, sent once a second; a column
    # for every signal is optional) was measured in the window: it goes with its newest sample,
    # at TimeInstant (it was lost, and alerts of such windows had no location)
    on_top = {
        name: value
        for name, value in values.items()
        if name not in window and name not in (SAMPLES, TIME_INSTANT) and value is not None
    }
    if on_top:
        at = max(range(len(out)), key=lambda i: out[i][0])
        out[at] = (out[at][0], {**on_top, **out[at][1]})
    return out
