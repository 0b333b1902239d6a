"""The portal's URLs name their tenant, so that they work without NGSILD-Tenant (browsers and
harvesters send none) and never lead to another tenant's data; on both stores."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.opendata.conftest import TOKEN, air_dataset, station

ACTION = "/opendata/api/3/action"
CITY2 = "city2"


@pytest.fixture
def two_tenants(settings: Settings) -> Iterator[TestClient]:
    """daegu-air in the default tenant (jung-1) and in city2 (suseong-1)."""
    with TestClient(build_app(settings.model_copy(update={"opendata_token": TOKEN}))) as client:
        for tenant, name in (("", "jung-1"), (CITY2, "suseong-1")):
            headers = {"NGSILD-Tenant": tenant} if tenant else {}
            response = client.post(
                "/ngsi-ld/v1/entityOperations/upsert", json=[station(name, 5)], headers=headers
            )
            assert response.status_code == 201, response.text
            response = client.post(
                f"{ACTION}/package_create",
                json=air_dataset(),
                headers={**headers, "Authorization": TOKEN},
            )
            assert response.status_code == 200, response.text
        yield client


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


def _station_names(client: TestClient, url: str) -> list[str]:
    response = client.get(_path(url))
    assert response.status_code == 200, response.text
    return [row["stationName"] for row in csv.DictReader(io.StringIO(response.text))]


def test_a_tenant_s_download_url_leads_to_its_data_without_the_header(
    two_tenants: TestClient,
) -> None:
    shown = two_tenants.get(
        f"{ACTION}/package_show", params={"id": "daegu-air"}, headers={"NGSILD-Tenant": CITY2}
    ).json()["result"]
    url = shown["resources"][0]["url"]
    assert "tenant=city2" in url
    assert _station_names(two_tenants, url) == ["suseong-1"]


def test_the_default_tenant_s_urls_are_unchanged(two_tenants: TestClient) -> None:
    shown = two_tenants.get(f"{ACTION}/package_show", params={"id": "daegu-air"}).json()
    url = shown["result"]["resources"][0]["url"]
    package_id = shown["result"]["id"]
    assert url == f"http://testserver/opendata/dataset/{package_id}/download/daegu-air.csv"
    assert _station_names(two_tenants, url) == ["jung-1"]


def test_a_tenant_s_dcat_addresses_name_it_and_dereference_without_the_header(
    two_tenants: TestClient,
) -> None:
    city2 = two_tenants.get("/opendata/catalog.jsonld", headers={"NGSILD-Tenant": CITY2}).json()
    default = two_tenants.get("/opendata/catalog.jsonld").json()
    assert city2["@id"] != default["@id"] and "tenant=city2" in city2["@id"]
    node = city2["dcat:dataset"][0]
    download = node["dcat:distribution"][0]["dcat:downloadURL"]["@id"]
    assert _station_names(two_tenants, download) == ["suseong-1"]
    described = two_tenants.get(_path(node["@id"]))
    assert described.status_code == 200
    assert described.json()["@id"] == node["@id"]


def test_a_tenant_parameter_and_a_header_that_disagree_are_a_409(two_tenants: TestClient) -> None:
    response = two_tenants.get(
        "/opendata/dataset/daegu-air/download/daegu-air.csv",
        params={"tenant": CITY2},
        headers={"NGSILD-Tenant": "city3"},
    )
    assert response.status_code == 409
    assert "tenant" in response.json()["error"]


def test_ckan_actions_take_the_tenant_parameter_as_harvesters_send_no_header(
    two_tenants: TestClient,
) -> None:
    shown = two_tenants.get(f"{ACTION}/package_show", params={"id": "daegu-air", "tenant": CITY2})
    assert shown.status_code == 200, shown.text
    assert "tenant=city2" in shown.json()["result"]["resources"][0]["url"]
    default = two_tenants.get(f"{ACTION}/package_show", params={"id": "daegu-air"}).json()
    assert shown.json()["result"]["id"] != default["result"]["id"]
    found = two_tenants.get(f"{ACTION}/package_search", params={"tenant": CITY2}).json()
    assert [p["id"] for p in found["result"]["results"]] == [shown.json()["result"]["id"]]
    patch = {"id": "daegu-air", "title": "City 2 air"}
    patched = two_tenants.post(
        f"{ACTION}/package_patch", params={"tenant": CITY2}, json=patch,
        headers={"Authorization": TOKEN},
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert default["result"]["title"] == "Daegu air quality"
    assert two_tenants.get(
        f"{ACTION}/package_show", params={"id": "daegu-air"}
    ).json()["result"]["title"] == "Daegu air quality"  # fmt: skip
    disagreeing = two_tenants.get(
        f"{ACTION}/package_list", params={"tenant": CITY2}, headers={"NGSILD-Tenant": "city3"}
    )
    assert disagreeing.status_code == 409


def test_a_tenant_s_home_page_links_the_ckan_api_of_its_tenant(two_tenants: TestClient) -> None:
    page = two_tenants.get("/opendata", params={"tenant": CITY2}).text
    assert f'{ACTION}/package_list?tenant=city2"' in page


def test_a_tenant_s_landing_page_links_package_show_of_its_tenant(
    two_tenants: TestClient,
) -> None:
    """docs/opendata.md: "The portal's own addresses of another tenant than the default (...,
    the pages) carry `?tenant=<tenant>`, so that they work without the header": the landing
    page's CKAN package_show link led to the default tenant, a 404."""
    package = two_tenants.get(f"{ACTION}/package_show", params={"id": "daegu-air", "tenant": CITY2})
    dataset_id = package.json()["result"]["id"]
    page = two_tenants.get(f"/opendata/dataset/{dataset_id}.html", params={"tenant": CITY2}).text
    (link,) = re.findall(r'href="([^"]*package_show[^"]*)"', page)
    shown = two_tenants.get(_path(html.unescape(link)))
    assert shown.status_code == 200
    assert shown.json()["result"]["id"] == dataset_id
