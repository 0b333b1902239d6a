"""Freed C heap goes back to the operating system: a worker that loaded a city's entities
does not keep tens of megabytes it no longer uses."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.heap import HeapTrim
from dalgu.settings import Settings
from tests.conftest import IN_PROCESS

#: run in a process of its own: in a test worker that ran other tests first, the blocks can
#: land in the holes of an older, fragmented heap, and what trimming gives back then depends
#: on what ran before (it failed once in CI, giving nothing back at 594 MiB resident)
_TRIM_SCENARIO = """
import sys
from dalgu.heap import HeapTrim


def resident_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


heap = HeapTrim(0)
if not heap.available:
    print("unavailable")
    sys.exit(0)
heap.trim()
# blocks too large for Python's small-object arenas come from the C heap; every tenth is
# kept, so the freed ones lie between live ones and free() alone cannot give them back
blocks = [bytes(3000) for _ in range(40_000)]  # ~120 MiB
kept = blocks[::10]
del blocks
before = resident_mib()
trimmed = heap.trim()
after = resident_mib()
print(trimmed, before, after, len(kept))
"""


def test_trimming_gives_freed_heap_back() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", _TRIM_SCENARIO], capture_output=True, text=True, check=True
    )
    if ran.stdout.strip() == "unavailable":
        pytest.skip("this C library has no malloc_trim")
    trimmed, before, after, kept = ran.stdout.split()
    assert trimmed == "True" and kept == "4000", ran.stdout
    assert float(before) - float(after) > 50, (before, after)


async def test_a_started_trim_runs_every_interval_until_stopped() -> None:
    heap = HeapTrim(0.01)
    if not heap.available:
        pytest.skip("this C library has no malloc_trim")
    calls: list[int] = []
    heap._trim = lambda pad: calls.append(pad) or 1
    heap.start()
    await asyncio.sleep(0.1)
    await heap.stop()
    made = len(calls)
    assert made >= 3 and set(calls) == {0}
    await asyncio.sleep(0.05)
    assert len(calls) == made  # stopped


def test_the_app_trims_as_set_and_stops_with_it(tmp_path: Path) -> None:
    settings = Settings.load(
        sqlite_path=tmp_path / "d.db", mqtt_broker="off", heap_trim_interval=0.5, **IN_PROCESS
    )
    app = build_app(settings)
    with TestClient(app):
        heap = app.state.dalgu_heap
        assert heap.interval == 0.5
        assert heap._task is not None and not heap._task.done()
    assert heap._task is None
    off = Settings.load(
        sqlite_path=tmp_path / "e.db", mqtt_broker="off", heap_trim_interval=0, **IN_PROCESS
    )
    quiet = build_app(off)
    with TestClient(quiet):
        assert quiet.state.dalgu_heap._task is None
