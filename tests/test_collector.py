"""The server process runs Python's garbage collector as `DALGU_GC_YOUNG_THRESHOLD` says, with
what start-up loaded frozen out of its sight, and leaves the collector as it found it when the
app stops (a process that embeds Dalgu, or a test run, collects as before)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.conftest import IN_PROCESS


@pytest.mark.parametrize("freeze", [True, False])
def test_the_app_runs_with_the_young_threshold_of_its_settings(
    tmp_path: Path, freeze: bool
) -> None:
    """The young threshold holds while the app runs and is given back after; what start-up
    loaded is frozen unless `gc_freeze` is off (the tests' own apps), and unfrozen after."""
    before = gc.get_threshold()
    settings = Settings.load(
        sqlite_path=tmp_path / "dalgu.db",
        mqtt_broker="off",
        gc_young_threshold=12_345,
        **{**IN_PROCESS, "gc_freeze": freeze},
    )
    with TestClient(build_app(settings)) as client:
        assert client.get("/ngsi-ld/v1/types").status_code == 200
        assert gc.get_threshold() == (12_345, before[1], before[2])
        # the modules and contexts loaded at start-up, or nothing
        assert (gc.get_freeze_count() > 0) == freeze
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
