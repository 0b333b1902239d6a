"""What CKAN clients and harvesters ask that Dalgu answers as a CKAN without groups would:
search limits clamped, groups empty, tags, resources, autocompletion; on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.opendata.conftest import air_dataset

ACTION = "/opendata/api/3/action"
TOKEN = "t0ken"


@pytest.fixture
def portal(settings: Settings) -> Iterator[TestClient]:
    """An in-process portal with two datasets: daegu-air (tags air, environment) and
    bus-stops (tag mobility, no organization)."""
    with TestClient(build_app(settings.model_copy(update={"opendata_token": TOKEN}))) as client:
        for body in (
            air_dataset(),
            air_dataset("bus-stops", title="Bus stops", tags=["mobility"], owner_org=None),
        ):
            response = client.post(
                f"{ACTION}/package_create", json=body, headers={"Authorization": TOKEN}
            )
            assert response.status_code == 200, response.text
        yield client


def _result(client: TestClient, action: str, **params: object) -> object:
    response = client.post(f"{ACTION}/{action}", json=params)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_rows_above_the_maximum_is_the_maximum(portal: TestClient) -> None:
    found = _result(portal, "package_search", rows=1001)
    assert isinstance(found, dict) and found["count"] == 2 and len(found["results"]) == 2
    huge = portal.get(f"{ACTION}/package_search", params={"rows": "9" * 23})
    assert huge.status_code == 200 and len(huge.json()["result"]["results"]) == 2


def test_a_negative_facet_limit_is_unlimited(portal: TestClient) -> None:
    found = _result(portal, "package_search", **{"facet.field": ["tags"], "facet.limit": -1})
    assert isinstance(found, dict)
    assert found["facets"]["tags"] == {"air": 1, "environment": 1, "mobility": 1}
    over_get = portal.get(
        f"{ACTION}/package_search", params={"facet.field": "tags", "facet.limit": "-1"}
    )
    assert over_get.json()["result"]["facets"]["tags"] == found["facets"]["tags"]


def test_fq_on_groups_matches_nothing_and_its_negation_everything(portal: TestClient) -> None:
    assert _result(portal, "package_search", fq="groups:parks")["count"] == 0  # type: ignore[index]
    assert _result(portal, "package_search", fq="-groups:parks")["count"] == 2  # type: ignore[index]


def test_group_list_is_empty_and_group_show_not_found(portal: TestClient) -> None:
    assert _result(portal, "group_list") == []
    response = portal.get(f"{ACTION}/group_show", params={"id": "parks"})
    assert response.status_code == 404
    assert response.json()["error"]["__type"] == "Not Found Error"


def test_tag_show_names_the_tag_and_its_datasets(portal: TestClient) -> None:
    shown = _result(portal, "tag_show", id="air", include_datasets=True)
    assert isinstance(shown, dict) and shown["name"] == "air"
    assert [p["name"] for p in shown["packages"]] == ["daegu-air"]
    assert portal.get(f"{ACTION}/tag_show", params={"id": "nope"}).status_code == 404


def test_resource_search_finds_resources_by_field_terms(portal: TestClient) -> None:
    found = _result(portal, "resource_search", query="format:csv")
    assert isinstance(found, dict) and found["count"] == 2
    assert {r["format"] for r in found["results"]} == {"CSV"}
    both = _result(portal, "resource_search", query=["format:parquet", "name:bus"])
    assert isinstance(both, dict) and [r["name"] for r in both["results"]] == [
        "Bus stops (Parquet)"
    ]
    unknown = portal.post(f"{ACTION}/resource_search", json={"query": "colour:red"})
    assert unknown.status_code == 409


def test_package_autocomplete_matches_names_then_titles(portal: TestClient) -> None:
    found = _result(portal, "package_autocomplete", q="AIR")
    assert found == [
        {
            "name": "daegu-air",
            "title": "Daegu air quality",
            "match_field": "name",
            "match_displayed": "daegu-air",
        }
    ]
    by_title = _result(portal, "package_autocomplete", q="stops")
    assert isinstance(by_title, list) and by_title[0]["name"] == "bus-stops"


def test_format_autocomplete_lists_the_formats_containing_q(portal: TestClient) -> None:
    assert _result(portal, "format_autocomplete", q="json") == ["GeoJSON"]
    assert _result(portal, "format_autocomplete", q="zip") == []
