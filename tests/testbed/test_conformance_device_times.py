"""The duplicates and order checks judge the times devices gave, shown as the device wrote
them; Dalgu's arrival times are no device's timestamps."""

from __future__ import annotations

from dalgu.testbed.conformance import evaluate
from tests.testbed.test_conformance import PROFILE, T0, event, stamp


def test_a_device_that_sends_no_time_has_no_duplicate_timestamps() -> None:
    """docs/testbed.md: duplicates "no device sends the same timestamp twice": messages
    arriving in the same millisecond carry no timestamp of the device."""
    untimed = [
        event("aq-nots", T0, {"t": "20"}, groups=(({"t": "20"}, None),), received=T0 + n // 10)
        for n in range(30)
    ]
    checks = {c.name: c for c in evaluate(PROFILE, "k", untimed, T0, T0 + 3).checks}
    assert checks["duplicates"].verdict == "n/a", checks["duplicates"].examples
    assert checks["order"].verdict == "n/a"
    assert checks["duplicates"].summary == "needs two stored messages with device times"


def test_timestamps_are_shown_as_the_device_sent_them() -> None:
    """A firm looks the message up in its own logs by the time its device wrote."""
    good = [event("aq-dup", T0 + n, {"t": "20"}) for n in range(5)]
    again = event("aq-dup", T0 + 2, {"t": "20"}, received=T0 + 5.01)
    checks = {c.name: c for c in evaluate(PROFILE, "k", [*good, again], T0, T0 + 6).checks}
    assert checks["duplicates"].examples == [f"aq-dup: timestamp {stamp(T0 + 2)} sent twice"]
    assert checks["order"].examples == [f"aq-dup: {stamp(T0 + 2)} after {stamp(T0 + 4)}"]
