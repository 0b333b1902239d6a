"""Round 15: the band's fast irregular rule sets premature beats aside, as the wheel's does since
round 11. A fast sinus rhythm (traffic, a call) with a premature beat and its compensatory pause
among eight intervals made its median successive change pass the bar: on the tuning drives
1000-1319, four of the five false band arrhythmias."""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.safety.crafted import EVENT, Signals, band_beating, run, steady_vehicle

END = EVENT + 120


def band(intervals: list[float]) -> Callable[[float], Signals]:
    return band_beating(intervals, 110.0)


def sinus(every: int, seed: int = 5) -> list[float]:
    """110 bpm swinging ±5 % over four beats (breathing) with timing error of 8 ms, a
    premature beat (a third early, then its compensatory pause) every `every` beats."""
    rng = random.Random(seed)
    out: list[float] = []
    for k in range(int((END + 60) * 110 / 60)):
        base = 545.0 * (1 + 0.05 * ((k % 4) - 1.5) / 1.5) + rng.gauss(0.0, 8.0)
        out.append(base)
    for k in range(every, len(out) - 1, every):
        early = out[k] / 3
        out[k] -= early
        out[k + 1] += early
    return out


def test_a_fast_sinus_rhythm_with_premature_beats_is_not_an_arrhythmia() -> None:
    assert run(END, steady_vehicle, band(sinus(9))) == []


def test_a_fast_irregular_rhythm_is_still_an_arrhythmia_at_once() -> None:
    rng = random.Random(11)
    calm = [857.0] * int(EVENT / 0.857)
    af = [500.0 * min(max(rng.gauss(1.0, 0.2), 0.45), 1.8) for _ in range(400)]
    alerts = run(EVENT + 60, steady_vehicle, band(calm + af))
    assert [(a.type, a.subtype) for a in alerts] == [("cardiac", "arrhythmia")]
    onset = sum(calm) / 1000.0 + 0.3
    assert alerts[0].raised <= onset + 8  # eight beats in: the fast rule, not the 16-beat one
