"""Polling commands: HTTP devices without an endpoint fetch their commands with getCmd=1."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.devices.conftest import provision_lamp, wait_for

E = "/ngsi-ld/v1/entities"


def status(client: TestClient, entity_id: str, name: str) -> str:
    value: str = client.get(f"{E}/{entity_id}").json()[f"{name}_status"]["value"]
    return value


def test_ultralight_device_polls_commands_once_and_reports_results(client: TestClient) -> None:
    entity_id = provision_lamp(client, "kpoll", "IoTA-UL")
    assert client.get("/iot/d?k=kpoll&i=lamp1&getCmd=1").text == ""  # nothing waits yet
    patch = client.patch(f"{E}/{entity_id}/attrs/switch", json={"value": "on"})
    assert patch.status_code == 204
    # queued before the PATCH was answered: PENDING at once
    assert status(client, entity_id, "switch") == "PENDING"
    assert client.patch(f"{E}/{entity_id}/attrs/dim", json={"value": {"level": 30}}).status_code
    # a measure with getCmd=1 is stored and answered with every waiting command
    fetched = client.post("/iot/d?k=kpoll&i=lamp1&getCmd=1", content=b"p|12")
    assert fetched.status_code == 200
    assert fetched.headers["content-type"].startswith("text/plain")
    assert fetched.text == "lamp1@switch|on#lamp1@dim|level=30"
    assert client.get(f"{E}/{entity_id}").json()["p"]["value"] == 12
    assert status(client, entity_id, "switch") == "DELIVERED"
    assert status(client, entity_id, "dim") == "DELIVERED"
    # delivered once
    assert client.get("/iot/d?k=kpoll&i=lamp1&getCmd=1").text == ""
    done = client.post("/iot/d/commands?k=kpoll&i=lamp1", content=b"lamp1@switch|is on")
    assert done.status_code == 200
    entity = client.get(f"{E}/{entity_id}").json()
    assert entity["switch_status"]["value"] == "OK"
    assert entity["switch_info"]["value"] == "is on"
    # a bad result and an unknown device are refused, not stored
    assert client.post("/iot/d/commands?k=kpoll&i=lamp1", content=b"no-at-sign").status_code == 400
    assert client.get("/iot/d?k=kpoll&i=ghost&getCmd=1").status_code == 404
    assert client.get("/iot/d?k=kpoll&i=lamp1").status_code == 400  # neither d nor getCmd


def test_a_result_posted_where_measures_go_completes_the_command(client: TestClient) -> None:
    entity_id = provision_lamp(client, "kpoll", "IoTA-UL")
    assert client.patch(f"{E}/{entity_id}/attrs/switch", json={"value": "on"}).status_code == 204
    assert client.patch(f"{E}/{entity_id}/attrs/dim", json={"value": {"level": 3}}).status_code
    assert client.get("/iot/d?k=kpoll&i=lamp1&getCmd=1").text.startswith("lamp1@switch|on")
    # as iotagent-ul takes it: a device@command group on /iot/d is a result, not a measure
    done = client.post("/iot/d?k=kpoll&i=lamp1", content=b"lamp1@switch|is on")
    assert done.status_code == 200, done.text
    entity = client.get(f"{E}/{entity_id}").json()
    assert "lamp1@switch" not in entity
    assert entity["switch_status"]["value"] == "OK" and entity["switch_info"]["value"] == "is on"
    # results and measures in one report
    both = client.post("/iot/d?k=kpoll&i=lamp1", content=b"p|7#lamp1@dim|dimmed")
    assert both.status_code == 200, both.text
    entity = client.get(f"{E}/{entity_id}").json()
    assert entity["dim_status"]["value"] == "OK" and entity["dim_info"]["value"] == "dimmed"
    assert entity["p"]["value"] == 7


def test_json_device_polls_commands(client: TestClient) -> None:
    entity_id = provision_lamp(client, "kpolljson", "IoTA-JSON")
    assert client.get("/iot/json?k=kpolljson&i=lamp1&getCmd=1").json() == {}
    client.patch(f"{E}/{entity_id}/attrs/switch", json={"value": "off"})
    client.patch(f"{E}/{entity_id}/attrs/switch", json={"value": "on"})  # replaces the first
    fetched = client.get("/iot/json?k=kpolljson&i=lamp1&getCmd=1")
    assert fetched.headers["content-type"] == "application/json"
    assert fetched.json() == {"switch": "on"}
    assert client.get("/iot/json?k=kpolljson&i=lamp1&getCmd=1").json() == {}
    result = client.post("/iot/json/commands?k=kpolljson&i=lamp1", json={"switch": "done"})
    assert result.status_code == 200
    entity = client.get(f"{E}/{entity_id}").json()
    assert entity["switch_status"]["value"] == "OK" and entity["switch_info"]["value"] == "done"


@pytest.fixture
def short_expiry(settings: Settings) -> Iterator[TestClient]:
    with TestClient(build_app(settings.model_copy(update={"device_command_expiry": 0.4}))) as c:
        yield c


def test_unfetched_command_expires(short_expiry: TestClient) -> None:
    client = short_expiry
    apikey = f"k{uuid.uuid4().hex[:8]}"
    entity_id = provision_lamp(client, apikey, "IoTA-UL")
    client.patch(f"{E}/{entity_id}/attrs/switch", json={"value": "on"})
    expired = wait_for(
        client, f"{E}/{entity_id}", lambda e: e["switch_status"]["value"] == "EXPIRED", 5
    )
    assert "not fetched" in expired["switch_info"]["value"]
    time.sleep(0.1)
    assert client.get(f"/iot/d?k={apikey}&i=lamp1&getCmd=1").text == ""


def test_queued_command_survives_a_restart(settings: Settings) -> None:
    with TestClient(build_app(settings)) as client:
        entity_id = provision_lamp(client, "kpollrestart", "IoTA-UL")
        client.patch(f"{E}/{entity_id}/attrs/switch", json={"value": "on"})
    with TestClient(build_app(settings)) as client:
        assert client.get("/iot/d?k=kpollrestart&i=lamp1&getCmd=1").text == "lamp1@switch|on"
