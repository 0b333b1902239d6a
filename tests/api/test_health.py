"""`GET /health` says whether the process can serve: its store answers (else 503), and how its
MQTT gateway stands (a warning, not a failure)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.errors import StoreUnavailable
from dalgu.settings import Settings
from tests.conftest import IN_PROCESS
from tests.ports import free_port, serving


def _check(body: dict[str, Any], name: str) -> dict[str, Any]:
    (check,) = body["checks"][name]
    return check


def test_a_store_that_answers_passes(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/health+json")
    body = response.json()
    assert body["status"] == "pass"
    store = _check(body, "store:responseTime")
    assert store["status"] == "pass" and store["observedUnit"] == "ms"
    assert "mqtt:connections" not in body["checks"]  # MQTT is off in these settings


def test_a_store_that_fails_or_hangs_is_a_503(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = client.app.state.dalgu.store  # type: ignore[attr-defined]

    async def broken(tenant: str, entity_id: str) -> bytes | None:
        raise StoreUnavailable("the database is down")

    monkeypatch.setattr(store, "get_document", broken)
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert "the database is down" in _check(body, "store:responseTime")["output"]

    async def hangs(tenant: str, entity_id: str) -> bytes | None:
        await asyncio.sleep(60)
        return None

    monkeypatch.setattr(store, "get_document", hangs)
    monkeypatch.setattr("dalgu.api.health.STORE_TIMEOUT", 0.2)
    response = client.get("/health")
    assert response.status_code == 503
    assert "no answer within 0.2 s" in _check(response.json(), "store:responseTime")["output"]


def test_an_mqtt_broker_that_is_down_is_a_warning(tmp_path: Path) -> None:
    # an external broker on a port where nothing listens: the gateway keeps retrying
    settings = Settings.load(
        sqlite_path=tmp_path / "dalgu.db",
        **{**IN_PROCESS, "mqtt_broker": "external", "mqtt_port": free_port()},
    )
    with TestClient(build_app(settings)) as client:
        response = client.get("/health")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "warn"
        mqtt = _check(body, "mqtt:connections")
        assert mqtt["status"] == "warn" and "not connected" in mqtt["output"]
        assert _check(body, "store:responseTime")["status"] == "pass"


def test_a_connected_gateway_passes(tmp_path: Path) -> None:
    settings = Settings.load(
        sqlite_path=tmp_path / "dalgu.db", mqtt_broker="embedded", **IN_PROCESS
    )
    with serving(settings, lambda: {"mqtt_port": free_port()}) as (client, _):
        body = client.get("/health").json()
        assert body["status"] == "pass"
        assert _check(body, "mqtt:connections")["status"] == "pass"


def _subscribe_and_change(client: TestClient) -> None:
    sub = {
        "type": "Subscription",
        "entities": [{"type": "Thing"}],
        "notification": {"endpoint": {"uri": f"http://127.0.0.1:{free_port()}/n"}},
    }
    assert client.post("/ngsi-ld/v1/subscriptions", json=sub).status_code == 201
    thing = {"id": "urn:ngsi-ld:Thing:1", "type": "Thing", "n": 1}
    assert client.post("/ngsi-ld/v1/entities", json=thing).status_code == 201


def test_changes_no_notifier_matches_are_a_warning_once_old(settings: Settings) -> None:
    quiet = settings.model_copy(update={"notifier": "off", "notifier_lag_warning": 0.3})
    with TestClient(build_app(quiet)) as client:
        assert _check(client.get("/health").json(), "notifier:lag")["observedValue"] == 0
        _subscribe_and_change(client)
        time.sleep(0.5)
        response = client.get("/health")
        assert response.status_code == 200  # the API serves; notifications are late
        body = response.json()
        lag = _check(body, "notifier:lag")
        assert body["status"] == "warn" and lag["status"] == "warn"
        assert lag["observedValue"] >= 0.5 and "is a notifier running?" in lag["output"]


def test_a_notifier_that_keeps_up_passes(settings: Settings) -> None:
    with TestClient(build_app(settings)) as client:  # the notifier runs inline
        _subscribe_and_change(client)
        deadline = time.monotonic() + 10
        lag = _check(client.get("/health").json(), "notifier:lag")
        while lag["observedValue"] > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
            lag = _check(client.get("/health").json(), "notifier:lag")
        assert lag == {"status": "pass", "observedValue": 0, "observedUnit": "s"}


def test_version_answers_as_agents_written_for_orion_ld_expect(client: TestClient) -> None:
    """The FIWARE IoT Agent's health check asks the broker's /version and counts it down on a
    404 (an outside test with the real agent)."""
    from dalgu import __version__

    answer = client.get("/version")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["dalgu"]["version"] == __version__
