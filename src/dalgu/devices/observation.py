"""When a measure group was observed, as the IoT Agents decide it.

The device's time when it gives one (an UltraLight group's leading timestamp, a
`TimeInstant` measure in UltraLight or JSON, HTTP's `t` parameter), in UTC as the IoT Agent
library writes `observedAt`. Without one, the arrival time when the device's `timestamp` flag
is on (the default). A device time that is not ISO 8601 is not used: the arrival time is,
and the measures are stored anyway.

The groups of a multi-measure message that the device gave each a time are written in the
order they were observed, as the IoT Agent library sorts them, so the entity's value is the
latest reading whatever the order the device sent them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

T = TypeVar("T")

TIME_INSTANT = "TimeInstant"  # the measure that gives its group's time


def observed_at(device_time: str | None, now: str, timestamp: bool) -> str | None:
    """The group's `observedAt`: the device's time in UTC, else `now` (when `timestamp` is on
    or the device's time was not a time), else None."""
    if device_time is None:
        return now if timestamp else None
    return utc_time(device_time) or now


@lru_cache(maxsize=4096)  # a multi-measure message repeats its times; clocks tick in seconds
def utc_time(text: str) -> str | None:
    """`text` as a UTC ISO 8601 date-time ending in `Z` (a time without an offset is taken as
    UTC), or None when it is not one."""
    value = text.strip()
    if len(value) < 10 or len(value) > 40 or not value[:4].isdigit() or value[4:5] != "-":
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    if moment.microsecond % 1000:
        spec = "microseconds"
    return moment.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def as_sent(
    groups: Iterable[tuple[dict[str, Any], str | None]], timestamp: str | None
) -> tuple[tuple[dict[str, Any], str | None], ...]:
    """The measure groups with the device time each was given, as sent (a time that is no
    time kept, for a conformance run to show): the group's own, a `TimeInstant` measure's
    (taken out of the measures), else the message's (HTTP `t`)."""
    out = []
    for values, stamp in groups:
        if TIME_INSTANT in values:
            values = dict(values)
            instant = values.pop(TIME_INSTANT)
            stamp = stamp or (instant if isinstance(instant, str) else str(instant))
        out.append((values, stamp or timestamp))
    return tuple(out)


def in_time_order(observed: list[tuple[str | None, T]]) -> list[T]:
    """The items ordered by their UTC observation times (stable), when every one has one;
    else as given."""
    if len(observed) > 1 and all(time is not None for time, _ in observed):
        observed = sorted(observed, key=lambda pair: _instant(pair[0]))
    return [item for _, item in observed]


def _instant(time: str | None) -> datetime:
    assert time is not None
    return datetime.fromisoformat(time.replace("Z", "+00:00"))
