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
