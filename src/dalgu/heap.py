"""The C heap's free memory given back to the operating system, now and then.

A batch write allocates tens of megabytes of short-lived objects (the parsed bodies, the
entities' states, index and history rows) and frees them all. Python gives back its own
small-object arenas when they empty, but larger blocks come from glibc's heap, whose free
chunks stay in the process between live ones: after loading 100,000 entities a worker held
~40 MiB of freed heap (174 MiB resident, 134 MiB after `malloc_trim`). `HeapTrim` calls
glibc's `malloc_trim(0)` every `interval` seconds, which hands those pages back: ~0.6 ms when
there is little to give, ~5 ms after a large batch. Where the C library has no `malloc_trim`
(musl, macOS), it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

from dalgu.background import Periodic

log = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


class HeapTrim(Periodic):
    """Gives freed heap back to the OS every `interval` seconds while started."""

    name = "dalgu-heap-trim"

    def __init__(self, interval: float) -> None:
        super().__init__(interval)
        self._trim = _malloc_trim()

    @property
    def available(self) -> bool:
        return self._trim is not None

    def trim(self) -> bool:
        """Give freed heap back now; whether any was (False too where it cannot be done)."""
        return self._trim is not None and self._trim(0) == 1

    def start(self) -> None:
        if self._trim is not None:
            super().start()

    async def run_once(self) -> None:
        self.trim()
