"""Log lines keep their fields (`dalgu.logs`), in the API worker as in the notifier."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from dalgu import logs
from tests.ports import free_port
from tests.server import kill_server
from tests.test_supervision import wait_for_notifier


@pytest.fixture
def restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.usefixtures("restored")
def test_a_json_line_holds_the_record_s_fields(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", "json")
    log = logging.getLogger("dalgu.store.sqlite.checkpoint")
    log.info("sqlite WAL truncated", extra={"wal_bytes": 300, "limit_bytes": 256})
    log.debug("not at this level")
    logging.getLogger("httpx").info("HTTP Request: POST http://receiver")  # one per request
    try:
        raise ValueError("broken")
    except ValueError:
        log.exception("a notification failed", extra={"subscription": "urn:s:1"})
    lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["level"], line["message"]) for line in lines] == [
        ("info", "sqlite WAL truncated"),
        ("error", "a notification failed"),
    ]
    assert lines[0]["logger"] == "dalgu.store.sqlite.checkpoint"
    assert (lines[0]["wal_bytes"], lines[0]["limit_bytes"]) == (300, 256)
    assert lines[0]["time"].endswith("+00:00")
    assert lines[1]["subscription"] == "urn:s:1"
    assert "ValueError: broken" in lines[1]["exception"]


@pytest.mark.usefixtures("restored")
def test_text_lines_end_with_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("warning", "text")
    logs.configure("warning", "text")  # configured twice: still one line per record
    log = logging.getLogger("dalgu.feed.relay")
    log.info("below the level")
    log.warning("change feed: NATS away", extra={"lag": 12})
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("WARNING dalgu.feed.relay: change feed: NATS away lag=12")


def test_the_api_worker_logs_json_lines_at_the_level_set(tmp_path: Path) -> None:
    """`dalgu serve`: every line on standard error is one JSON object, the worker's, the HTTP
    server's (granian wrote `[INFO] ...` text) and the supervisor's (a notifier restarted was
    a plain line, the very event a log shipper must not drop; an outside test, round 6)."""
    port, north = free_port(), free_port()
    env = {
        **os.environ,
        "DALGU_SQLITE_PATH": str(tmp_path / "dalgu.db"),
        "DALGU_PORT": str(port),
        "DALGU_IOT_NORTH_PORT": str(north),
        "DALGU_IOT_SOUTH_PORT": "0",
        "DALGU_COAP_PORT": "0",
        "DALGU_MQTT_BROKER": "off",
        "DALGU_LOG_FORMAT": "json",
    }
    err = tmp_path / "stderr"
    with err.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "dalgu", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).is_success:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            killed = wait_for_notifier(server.pid, None, 30)
            os.kill(killed, signal.SIGKILL)
            wait_for_notifier(server.pid, killed, 30)
            time.sleep(0.5)
        finally:
            kill_server(server)
    lines = [orjson.loads(line) for line in err.read_bytes().splitlines() if line.strip()]
    assert any(line["logger"] == "_granian" and "granian" in line["message"] for line in lines)
    restarted = next(line for line in lines if line["logger"] == "dalgu.serve")
    assert restarted["level"] == "warning" and "killed by SIGKILL" in restarted["message"]
    assert {
        "level": "info",
        "logger": "dalgu.gateway.listeners",
        "message": f"IoT Agent provisioning API listening on 127.0.0.1:{north}",
    }.items() <= next(line for line in lines if line["logger"] == "dalgu.gateway.listeners").items()


def test_the_log_settings_take_either_case_and_refuse_others() -> None:
    from dalgu.settings import InvalidSettings, Settings

    settings = Settings.load(log_level="WARNING", log_format="JSON")
    assert (settings.log_level, settings.log_format) == ("warning", "json")
    with pytest.raises(InvalidSettings, match="DALGU_LOG_LEVEL"):
        Settings.load(log_level="loud")
