"""Round 19: a fast irregular rhythm read on five of the wheel's intervals when the seat, over
the same seconds, felt one too.

A hand back on the wheel for two or three seconds gives five intervals, too few to tell
fibrillation from a noisy sinus rhythm on the wheel alone (its highest irregularity on five
outside emergencies, over whole tuning drives, was 0.267). The seat is a second sensor of the
same heart with noise of its own: when both read a fast rhythm and both read it irregular
over the same seconds, the noise of one does not explain the other. A premature beat does
not pass for it: both sensors feel it (it is the heart's), so the wheel's five must have all
but one of their four successive changes wide (a premature beat and its pause make two), and
both sensors' irregularity is read with premature beats set aside too.

Weighed on the tuning drives 1000-1319, on every second of every whole drive whatever the band
did: no finding outside a medical event at these bars (five intervals at 0.2 without the
count of wide changes: two, on 1195 and 1218, premature beats felt by both; four intervals:
one, on 1209). It moved one tuning event under a lost band, the arrhythmia of 1128, from
15.8 s to 3.8 s (its wheel had five irregular intervals 3 s after the onset, then lost
contact for eight).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from dalgu.safety.detectors.rhythm import irregularity, without_ectopics, without_one_premature
from dalgu.safety.history import Second

BEATS = 5  # the wheel's last intervals read, at a median rate above the wheel's fast bar ...
IRREGULAR = 0.2  # ... irregular above this, however premature beats are read
SEAT_BEATS = 4  # the seat's intervals over the same seconds: at least this many ...
SEAT_IRREGULAR = 0.14  # ... fast, and irregular above this, premature beats set aside or not

# another of the car's heart sensors as a witness: its quality, its intervals, its gate (the
# wheel's `cabin.BeatSensor.witness`)
Witness = tuple[Callable[[Second], float | None], Callable[[Second], list[float]], float]


def _fast_and_irregular(rr: Sequence[float], fast_rate: float, bar: float) -> bool:
    """Faster than `fast_rate` (bpm), and irregular past `bar` however premature beats are
    read."""
    return (
        statistics.median(rr) < 60000.0 / fast_rate
        and min(irregularity(rr), without_ectopics(rr), without_one_premature(rr)) > bar
    )


def witnessed_fibrillation(
    recent: Sequence[tuple[float, float]],
    seconds: Sequence[Second],
    witness: Witness,
    fast_rate: float,
) -> dict[str, object] | None:
    """The finding's evidence when the wheel's `recent` good intervals ((second, ms), oldest
    first) end in five faster than `fast_rate` and irregular that the witness felt over the
    same `seconds`."""
    last = list(recent[-BEATS:])
    fast = [x for _, x in last]
    if len(fast) < BEATS or not _fast_and_irregular(fast, fast_rate, IRREGULAR):
        return None
    quality, intervals, gate = witness
    since = last[0][0]
    seat = [
        x
        for s in seconds
        if s.t >= since and (q := quality(s)) is not None and q >= gate
        for x in intervals(s)
        if 250.0 < x < 2500.0
    ]
    if len(seat) < SEAT_BEATS or not _fast_and_irregular(seat, fast_rate, SEAT_IRREGULAR):
        return None
    return {
        "heartRate": round(60000.0 / statistics.median(fast), 1),
        "beats": len(fast),
        "intervals": "vehicle",
        "witnessBeats": len(seat),
    }
