"""How far behind its arrival a source stamps its samples: the safety service's reading of a
car's and a band's clocks (`service.SafetyService` shifts a band whose clock is off its
car's onto the car's time)."""

from __future__ import annotations

from collections import deque

CLOCK_MESSAGES = 30  # a source's recent messages its lag is read over
CLOCK_LEAST = 5  # messages of each source before its lag is read at all


class SourceClock:
    """A source's recent messages as (arrival, newest sample time): how far behind the
    arrival its samples are stamped."""

    def __init__(self) -> None:
        self._heard: deque[tuple[float, float]] = deque(maxlen=CLOCK_MESSAGES)

    def heard(self, received: float, newest: float) -> None:
        self._heard.append((received, newest))

    def lag(self) -> float | None:
        """Arrival minus sample time, a low percentile (a glitch or a late batch does not
        move it); None before `CLOCK_LEAST` messages."""
        if len(self._heard) < CLOCK_LEAST:
            return None
        return sorted(r - t for r, t in self._heard)[len(self._heard) // 10]

    def paced(self) -> bool:
        """Whether the messages came at the pace of their samples (a source sending as it
        measures), not as a backlog or a replay faster than real time."""
        arrivals = [r for r, _ in self._heard]
        times = [t for _, t in self._heard]
        return max(times) - min(times) <= 1.5 * (max(arrivals) - min(arrivals)) + 2.0
