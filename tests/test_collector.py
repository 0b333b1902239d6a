"""The server process runs Python's garbage collector as `DALGU_GC_YOUNG_THRESHOLD` says, with
what start-up loaded frozen out of its sight, and leaves the collector as it found it when the
app stops (a process that embeds Dalgu, or a test run, collects as before)."""

from __future__ import annotations

import gc
from pathlib import Path

from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.conftest import IN_PROCESS


def test_the_app_runs_with_the_young_threshold_of_its_settings(tmp_path: Path) -> None:
    before = gc.get_threshold()
    settings = Settings.load(
        sqlite_path=tmp_path / "dalgu.db",
        mqtt_broker="off",
        gc_young_threshold=12_345,
        **{**IN_PROCESS, "gc_freeze": True},
    )
    with TestClient(build_app(settings)) as client:
        assert client.get("/ngsi-ld/v1/types").status_code == 200
        assert gc.get_threshold() == (12_345, before[1], before[2])
        assert gc.get_freeze_count() > 0  # the modules and contexts loaded at start-up
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_app_told_not_to_freeze_leaves_the_embedding_process_s_heap_alone(
    tmp_path: Path,
) -> None:
    """`gc_freeze` off (the tests' own apps): nothing is frozen, the young threshold still
    applies while the app runs and is given back after."""
    before = gc.get_threshold()
    settings = Settings.load(
        sqlite_path=tmp_path / "dalgu.db",
        mqtt_broker="off",
        gc_young_threshold=12_345,
        **{**IN_PROCESS, "gc_freeze": False},
    )
    with TestClient(build_app(settings)) as client:
        assert client.get("/ngsi-ld/v1/types").status_code == 200
        assert gc.get_threshold() == (12_345, before[1], before[2])
        assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
