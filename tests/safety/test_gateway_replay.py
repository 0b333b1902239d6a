"""The evaluation through the real gateway: drives published over MQTT into a running server
give the same alerts, at the same drive times, as the in-process replay (each store)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from dalgu.safety.evaluation import match, replay
from dalgu.safety.gateway_replay import replay_through_gateway
from dalgu.safety.generator import generate_scenario
from dalgu.safety.scenario import Event
from dalgu.settings import Settings
from dalgu.testbed.simulator import Endpoints
from tests.devices.conftest import MOSQUITTO
from tests.ports import free_port
from tests.server import kill_server


def _server(settings: Settings, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port, north = free_port(), free_port()
    env = {
        **os.environ,
        "DALGU_STORE": settings.store,
        "DALGU_SQLITE_PATH": str(tmp_path / "dalgu.db"),
        "DALGU_PORT": str(port),
        "DALGU_IOT_NORTH_PORT": str(north),
        "DALGU_IOT_SOUTH_PORT": "0",
        "DALGU_COAP_PORT": "0",
        "DALGU_MQTT_BROKER": "external",
        "DALGU_MQTT_PORT": str(MOSQUITTO[1]),
        "DALGU_MQTT_CLIENT_ID": f"dalgu-eval-{uuid.uuid4().hex[:6]}",
        "DALGU_SAFETY": "true",
    }
    if settings.postgres_dsn:
        env["DALGU_POSTGRES_DSN"] = settings.postgres_dsn
    process = subprocess.Popen(
        [sys.executable, "-m", "dalgu", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                time.sleep(1.0)  # the MQTT southbound subscribes
                return process, f"http://127.0.0.1:{port}/ngsi-ld/v1", f"http://127.0.0.1:{north}"
        except httpx.HTTPError:
            time.sleep(0.2)
    kill_server(process)
    raise RuntimeError("server did not start")


@pytest.mark.slow
def test_drives_through_the_gateway_raise_the_alerts_of_the_in_process_replay(
    settings: Settings, tmp_path: Path
) -> None:
    """Cars send telemetry windows (the replay's default), as the demonstration's do."""
    # seeds whose drives leave the event detectable (no slipped band over it)
    scenarios = [
        generate_scenario(
            seed, duration=680, events=[Event(kind, 615.0, 700.0, {"subtype": subtype})]
        )
        for seed, kind, subtype in [
            (9100, "cardiac", "asystole"),
            (9103, "hypoxaemia", "desaturation"),
        ]
    ]
    server, api, north = _server(settings, tmp_path)
    try:
        outcomes = asyncio.run(
            replay_through_gateway(
                scenarios,
                endpoints=Endpoints(*MOSQUITTO),
                api=api,
                north=north,
                speed=50.0,
            )
        )
    finally:
        kill_server(server)
    for scenario, live in zip(scenarios, outcomes, strict=True):
        local = match(scenario.labels.events, replay(scenario), scenario.labels.duration)
        assert [e.type for e, _ in live.detected] == [e.type for e, _ in local.detected]
        assert len(live.detected) == 1, scenario.labels
        assert [lat for _, lat in live.detected] == pytest.approx(
            [lat for _, lat in local.detected], abs=1.0
        )
        assert [(a.type, a.subtype) for a in live.true_alerts] == [
            (a.type, a.subtype) for a in local.true_alerts
        ]
        assert not live.false_alerts
