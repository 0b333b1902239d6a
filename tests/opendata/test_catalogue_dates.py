"""The DCAT catalogue's own dates, on both stores: `dct:modified` is its last change, a
deletion included, and never goes back; `dct:issued` stays when its first dataset goes;
both are kept in the store, so another worker and a restarted server say the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import pytest
from pyld import jsonld
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.opendata.conftest import TOKEN

DCT = "http://purl.org/dc/terms/"
ACTION = "/opendata/api/3/action"


def _dates(client: TestClient) -> tuple[datetime | None, datetime | None]:
    """The catalogue's (issued, modified)."""
    response = client.get("/opendata/catalog.jsonld")
    assert response.status_code == 200, response.text
    (catalog,) = [
        n
        for n in jsonld.expand(orjson.loads(response.content))
        if "http://www.w3.org/ns/dcat#Catalog" in n.get("@type", [])
    ]

    def at(iri: str) -> datetime | None:
        values = catalog.get(iri, [])
        return datetime.fromisoformat(values[0]["@value"]) if values else None

    return at(DCT + "issued"), at(DCT + "modified")


def _create(client: TestClient, name: str) -> dict[str, Any]:
    body = {"name": name, "entity_type": "AirQualityObserved", "attributes": ["pm10"]}
    response = client.post(f"{ACTION}/package_create", json=body, headers={"Authorization": TOKEN})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def _delete(client: TestClient, name: str) -> None:
    response = client.post(
        f"{ACTION}/package_delete", json={"id": name}, headers={"Authorization": TOKEN}
    )
    assert response.status_code == 200, response.text


def _ckan(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


def test_deleting_the_newest_dataset_moves_modified_forward_not_back(
    portal_client: TestClient,
) -> None:
    _create(portal_client, "air-a")
    _create(portal_client, "air-b")
    newest = _create(portal_client, "air-c")
    issued, before = _dates(portal_client)
    assert before == _ckan(newest["metadata_modified"])
    _delete(portal_client, "air-c")
    _, after = _dates(portal_client)
    assert before is not None and after is not None and after > before
    assert _dates(portal_client)[0] == issued


def test_deleting_the_first_dataset_keeps_the_catalogue_issued(
    portal_client: TestClient,
) -> None:
    first = _create(portal_client, "air-a")
    _create(portal_client, "air-b")
    issued, _ = _dates(portal_client)
    assert issued == _ckan(first["metadata_created"])
    _delete(portal_client, "air-a")
    assert _dates(portal_client)[0] == issued


def test_a_catalogue_emptied_keeps_its_dates(portal_client: TestClient) -> None:
    only = _create(portal_client, "air-a")
    _delete(portal_client, "air-a")
    issued, modified = _dates(portal_client)
    assert issued == _ckan(only["metadata_created"])
    assert modified is not None and modified > _ckan(only["metadata_modified"])


@pytest.fixture
def restartable(settings: Settings) -> Iterator[Settings]:
    yield settings.model_copy(update={"opendata_token": TOKEN})


def test_the_time_of_a_deletion_is_kept_across_a_restart(restartable: Settings) -> None:
    with TestClient(build_app(restartable)) as client:
        _create(client, "air-a")
        _create(client, "air-b")
        _delete(client, "air-b")
        dates = _dates(client)
    with TestClient(build_app(restartable)) as client:
        assert _dates(client) == dates
