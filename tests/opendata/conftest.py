"""Fixtures of the open-data tests: a real Dalgu server per store with a publishing token, a
tenant of its own per test, and city entities to publish."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from ckanapi import RemoteCKAN
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.conftest import BACKENDS, fresh_database
from tests.ports import free_port
from tests.server import kill_server, start_server

TOKEN = "test-publishing-token"
#: air-quality stations of the tests, exact positions (lon, lat) in central Daegu
STATIONS = {
    "jung-1": (128.593712, 35.869401),
    "jung-2": (128.601234, 35.871109),
    "suseong-1": (128.630987, 35.858321),
}
OWNER = "Kim Minji, 010-1234-5678"  # a withheld attribute's value: never in a download


def station(name: str, pm10: float, at: str = "2026-12-01T10:00:00Z") -> dict[str, Any]:
    lon, lat = STATIONS[name]
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:{name}",
        "type": "AirQualityObserved",
        "pm10": {"type": "Property", "value": pm10, "unitCode": "GQ", "observedAt": at},
        "stationName": {"type": "Property", "value": name},
        "owner": {"type": "Property", "value": OWNER},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }


def air_dataset(name: str = "daegu-air", **fields: Any) -> dict[str, Any]:
    """A package_create body publishing the stations' pm10, owners withheld."""
    return {
        "name": name,
        "title": "Daegu air quality",
        "notes": "PM10 of the city's air-quality stations",
        "tags": [{"name": "air"}, {"name": "environment"}],
        "owner_org": "daegu-city",
        "license_id": "KOGL-Type1",
        "entity_type": "AirQualityObserved",
        "attributes": ["pm10", "stationName"],
        "geometry_attribute": "location",
        "withheld_attributes": ["owner"],
        "grid_metres": 500,
        **fields,
    }


@pytest.fixture(scope="module", params=BACKENDS)
def portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The base URL of a real Dalgu server (per store) whose open-data token is TOKEN."""
    with contextlib.ExitStack() as stack:
        database = None
        if request.param == "postgres":
            database = stack.enter_context(fresh_database(request))
        dsn = f"postgresql://postgres@127.0.0.1:5432/{database}" if database else None
        port = free_port()
        db: Path = tmp_path_factory.mktemp("opendata") / "dalgu.db"
        process = start_server(
            db, port, postgres_dsn=dsn, environment={"DALGU_OPENDATA_TOKEN": TOKEN}
        )
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            kill_server(process)


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own: its datasets and entities are the only ones it sees."""
    return f"t{uuid.uuid4().hex[:12]}"


def remote(portal: str, tenant: str, apikey: str | None = None) -> RemoteCKAN:
    """ckanapi's client for the portal, in `tenant` (a header on its requests session)."""
    session = requests.Session()
    session.headers["NGSILD-Tenant"] = tenant
    return RemoteCKAN(f"{portal}/opendata", apikey=apikey, session=session)


@pytest.fixture
def publisher(portal: str, tenant: str) -> Iterator[RemoteCKAN]:
    client = remote(portal, tenant, TOKEN)
    yield client
    client.close()


@pytest.fixture
def reader(portal: str, tenant: str) -> Iterator[RemoteCKAN]:
    client = remote(portal, tenant)
    yield client
    client.close()


def seed(portal: str, tenant: str, entities: list[dict[str, Any]]) -> None:
    response = httpx.post(
        f"{portal}/ngsi-ld/v1/entityOperations/upsert",
        json=entities,
        headers={"NGSILD-Tenant": tenant},
        timeout=10,
    )
    assert response.status_code in (201, 204), response.text


PAGE = 2  # rows an in-process portal reads per page: three stations take two pages


@pytest.fixture
def portal_client(settings: Settings) -> Iterator[TestClient]:
    """An in-process Dalgu (per store) whose open-data token is TOKEN, reading small pages."""
    with TestClient(build_app(settings.model_copy(update={"opendata_token": TOKEN}))) as client:
        client.app.state.dalgu.opendata.page_size = PAGE  # type: ignore[attr-defined]
        yield client


def publish_in_process(
    client: TestClient, name: str = "daegu-air", **fields: Any
) -> dict[str, Any]:
    """package_create of `air_dataset(name, **fields)`; the package CKAN answers."""
    response = client.post(
        "/opendata/api/3/action/package_create",
        json=air_dataset(name, **fields),
        headers={"Authorization": TOKEN},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result
