"""CKAN parameters of `package_search` and the package lists that clients send and rely on:
`fq_list`, `facet`, `facet.mincount`, and the deprecated `page` of
`current_package_list_with_resources`, on both stores."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.opendata.conftest import TOKEN, air_dataset

ACTION = "/opendata/api/3/action"


def _create(client: TestClient, name: str, tags: list[str], org: str) -> None:
    body = air_dataset(name, tags=[{"name": t} for t in tags], owner_org=org)
    response = client.post(f"{ACTION}/package_create", json=body, headers={"Authorization": TOKEN})
    assert response.status_code == 200, response.text


@pytest.fixture
def catalogue(portal_client: TestClient) -> TestClient:
    _create(portal_client, "air-env", ["air", "pm10"], "daegu-env")
    _create(portal_client, "air-city", ["air"], "daegu-city")
    _create(portal_client, "bus-city", ["bus"], "daegu-city")
    return portal_client


def _search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.post(f"{ACTION}/package_search", json=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def _names(result: dict[str, Any]) -> list[str]:
    return sorted(p["name"] for p in result["results"])


def test_fq_list_filters_as_fq_does(catalogue: TestClient) -> None:
    assert _names(_search(catalogue, fq_list=["tags:air"])) == ["air-city", "air-env"]


def test_fq_list_items_and_fq_must_all_hold(catalogue: TestClient) -> None:
    found = _search(catalogue, fq="tags:air", fq_list=["organization:daegu-env"])
    assert _names(found) == ["air-env"]
    found = _search(catalogue, fq_list=["tags:air OR tags:bus", "organization:daegu-city"])
    assert _names(found) == ["air-city", "bus-city"]


def test_fq_list_over_get_repeated_or_as_json(catalogue: TestClient) -> None:
    url = f"{ACTION}/package_search"
    repeated = catalogue.get(url, params=[("fq_list", "tags:air"), ("fq_list", "-name:air-env")])
    assert [p["name"] for p in repeated.json()["result"]["results"]] == ["air-city"]
    as_json = catalogue.get(url, params={"fq_list": '["tags:air", "-name:air-env"]'})
    assert [p["name"] for p in as_json.json()["result"]["results"]] == ["air-city"]


@pytest.mark.parametrize(
    "fq_list", ["tags:air", [3], ["name:air*"], ["free word"], ["tags:air OR"]]
)
def test_an_fq_list_that_cannot_be_read_is_a_validation_error(
    catalogue: TestClient, fq_list: Any
) -> None:
    response = catalogue.post(f"{ACTION}/package_search", json={"fq_list": fq_list})
    assert response.status_code == 409, response.text
    assert "fq_list" in response.json()["error"]


def test_fq_list_counts_towards_the_bound_of_a_search(catalogue: TestClient) -> None:
    items = ["-name:x"] * 1025  # one term more than a search may hold
    response = catalogue.post(f"{ACTION}/package_search", json={"fq_list": items})
    assert response.status_code == 409, response.text


def test_facet_mincount_leaves_out_rarer_values(catalogue: TestClient) -> None:
    found = _search(catalogue, rows=0, **{"facet.field": ["tags"], "facet.mincount": 2})
    assert found["facets"] == {"tags": {"air": 2}}
    assert [i["name"] for i in found["search_facets"]["tags"]["items"]] == ["air"]


def test_facet_mincount_zero_lists_values_no_result_has(catalogue: TestClient) -> None:
    found = _search(
        catalogue, fq="tags:bus", rows=0, **{"facet.field": ["tags"], "facet.mincount": 0}
    )
    assert found["facets"]["tags"] == {"bus": 1, "air": 0, "pm10": 0}


def test_facet_false_computes_no_facets(catalogue: TestClient) -> None:
    found = _search(catalogue, rows=0, facet="false", **{"facet.field": ["organization"]})
    assert found["facets"] == {} and found["search_facets"] == {}
    found = _search(catalogue, rows=0, facet="true", **{"facet.field": ["organization"]})
    assert found["facets"] == {"organization": {"daegu-city": 2, "daegu-env": 1}}


@pytest.mark.parametrize(
    ("key", "value"), [("facet.mincount", -1), ("facet.mincount", "x"), ("facet", "maybe")]
)
def test_a_bad_facet_parameter_is_a_validation_error(
    catalogue: TestClient, key: str, value: Any
) -> None:
    response = catalogue.post(f"{ACTION}/package_search", json={key: value})
    assert response.status_code == 409, response.text
    assert key in response.json()["error"]


def test_current_package_list_pages_by_page_as_ckan_does(catalogue: TestClient) -> None:
    url = f"{ACTION}/current_package_list_with_resources"

    def names(**params: Any) -> list[str]:
        response = catalogue.get(url, params=params)
        assert response.status_code == 200, response.text
        return [p["name"] for p in response.json()["result"]]

    every = names()
    assert len(every) == 3
    assert names(limit=2, page=1) == every[:2]
    assert names(limit=2, page=2) == every[2:]
    assert names(limit=2, page=2, offset=0) == every[:2]  # offset, when given, wins


@pytest.mark.parametrize("page", ["0", "x", "-1"])
def test_a_bad_page_is_a_validation_error(catalogue: TestClient, page: str) -> None:
    response = catalogue.get(
        f"{ACTION}/current_package_list_with_resources", params={"limit": 2, "page": page}
    )
    assert response.status_code == 409, response.text
    assert "page" in response.json()["error"]
