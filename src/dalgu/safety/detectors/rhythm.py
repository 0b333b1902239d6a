"""Statistics of a run of beat intervals, shared by the band's and the car's cardiac rules."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence


def median3(a: float, b: float, c: float) -> float:
    """The median of three numbers."""
    return max(min(a, b), min(max(a, b), c))


def irregularity(rr: Sequence[float]) -> float:
    """The median successive change of the intervals, relative to the later one: a few
    hundredths in a steady sinus rhythm, about a fifth in atrial fibrillation."""
    if len(rr) < 3:
        return 0.0
    return statistics.median([abs(b - a) / b for a, b in itertools.pairwise(rr)])


PREMATURE = 0.15  # a beat this much shorter than the median, then one this much longer ...
COMPENSATED = 0.1  # ... the two summing to twice the median within this: a premature beat


def without_ectopics(rr: Sequence[float]) -> float:
    """`irregularity` with premature beats set aside: a short interval followed by a long one
    (the compensatory pause) that sum to about two median intervals is one ectopic beat in a
    regular rhythm, and neither of its successive changes is counted. Atrial fibrillation has
    no such pairing; a sinus rhythm with two ectopics in eight beats looks irregular without
    it."""
    if len(rr) < 3:
        return 0.0
    middle = statistics.median(rr)
    ectopic: set[int] = set()
    for i, (a, b) in enumerate(itertools.pairwise(rr)):
        if (
            a < (1 - PREMATURE) * middle
            and b > (1 + PREMATURE) * middle
            and abs(a + b - 2 * middle) <= COMPENSATED * 2 * middle
        ):
            ectopic.update((i, i + 1))
    changes = [
        abs(b - a) / b
        for i, (a, b) in enumerate(itertools.pairwise(rr))
        if i not in ectopic and i + 1 not in ectopic
    ]
    return statistics.median(changes) if changes else 0.0


def without_one_premature(rr: Sequence[float]) -> float:
    """`irregularity` left when one short interval followed by a long one (a premature beat
    and its pause, compensating or not) is set aside, whichever pair leaves the least: a
    regular rhythm with one premature beat is regular again, atrial fibrillation is not."""
    if len(rr) < 3:
        return 0.0
    middle = statistics.median(rr)
    changes = [abs(b - a) / b for a, b in itertools.pairwise(rr)]
    left = [
        statistics.median(kept)
        for i, (a, b) in enumerate(itertools.pairwise(rr))
        if a < middle < b
        for kept in [[c for j, c in enumerate(changes) if j not in (i - 1, i, i + 1)]]
        if kept
    ]
    return min([statistics.median(changes), *left])
