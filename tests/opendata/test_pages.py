"""The portal's pages for people: the catalogue's home page and each dataset's landing page,
which DCAT names as its foaf:homepage and dcat:landingPage, on both stores."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pyld import jsonld
from starlette.testclient import TestClient

from tests.opendata.conftest import publish_in_process

DCAT = "http://www.w3.org/ns/dcat#"
FOAF = "http://xmlns.com/foaf/0.1/"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _catalog(client: TestClient) -> dict[str, Any]:
    (catalog,) = jsonld.expand(orjson.loads(client.get("/opendata/catalog.jsonld").content))
    result: dict[str, Any] = catalog
    return result


def _page(client: TestClient, url: str, accept: str = BROWSER) -> str:
    response = client.get(url, headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]
    return response.text


def test_the_catalogue_homepage_is_a_page_listing_its_datasets(portal_client: TestClient) -> None:
    publish_in_process(portal_client)
    catalog = _catalog(portal_client)
    (homepage,) = catalog[FOAF + "homepage"]
    assert homepage["@type"] == [FOAF + "Document"]
    html = _page(portal_client, homepage["@id"])
    landing = catalog[DCAT + "dataset"][0][DCAT + "landingPage"][0]["@id"]
    assert '<html lang="en">' in html and 'href="#main"' in html
    assert f'<a href="{landing}">Daegu air quality</a>' in html
    assert "/dashboard/static/dashboard.css" in html


def test_a_dataset_s_landing_page_is_a_page_with_its_downloads(portal_client: TestClient) -> None:
    package = publish_in_process(portal_client)
    (dataset,) = _catalog(portal_client)[DCAT + "dataset"]
    (landing,) = dataset[DCAT + "landingPage"]
    assert landing["@type"] == [FOAF + "Document"]
    assert "package_show" not in landing["@id"]
    html = _page(portal_client, landing["@id"], accept="*/*")
    assert '<h2 id="dataset-heading">Daegu air quality</h2>' in html
    for resource in package["resources"][:3]:
        assert f'href="{resource["url"]}"' in html
    assert "owner never published" in html


def test_a_browser_at_a_dataset_iri_gets_its_page_and_a_harvester_its_description(
    portal_client: TestClient,
) -> None:
    publish_in_process(portal_client)
    iri = _catalog(portal_client)[DCAT + "dataset"][0]["@id"]
    assert "Daegu air quality" in _page(portal_client, iri)
    assert portal_client.get(iri).headers["content-type"].startswith("application/ld+json")


def test_the_home_page_in_an_rdf_serialization_is_the_catalogue(portal_client: TestClient) -> None:
    response = portal_client.get("/opendata", headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/turtle")
    assert "#publisher" in response.text and "dcat:Catalog" in response.text


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ('<script>alert("x")</script>', "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"),
        ('대구 & "air"', "대구 &amp; &#34;air&#34;"),
    ],
)
def test_a_title_is_shown_as_text_never_as_markup(
    portal_client: TestClient, title: str, shown: str
) -> None:
    publish_in_process(portal_client, title=title)
    html = _page(portal_client, "/opendata")
    assert shown in html and "<script>" not in html


def test_the_home_page_lists_its_datasets_by_pages_and_searches_them(
    portal_client: TestClient,
) -> None:
    """An outside test: a portal of 1,000 datasets was one 420 KB page listing them all, with
    no paging and no search, where CKAN's /dataset page shows 20 a page with a search form.
    The page's search is package_search's `q`."""
    for n in range(21):
        title = "Traffic flow" if n == 3 else f"Air quality {n:02d}"
        publish_in_process(portal_client, f"set-{n:02d}", title=title)
    first = _page(portal_client, "/opendata")
    assert "Datasets (21)" in first and first.count("<h3>") == 20
    assert 'role="search"' in first and "Page 1 of 2" in first
    assert 'href="http://testserver/opendata?page=2" rel="next"' in first
    second = _page(portal_client, "/opendata?page=2")
    assert second.count("<h3>") == 1 and 'rel="prev"' in second
    found = _page(portal_client, '/opendata?q="traffic flow"')
    assert "Datasets (1)" in found and "Traffic flow" in found
    refused = portal_client.get("/opendata", params={"q": "traffic^2"}, headers={"Accept": BROWSER})
    assert refused.status_code == 400 and "boosts are not supported" in refused.text


def test_a_page_for_people_of_an_unknown_dataset_is_a_404_page(client: TestClient) -> None:
    for path, accept in [
        ("/opendata/dataset/nothing.html", "*/*"),
        ("/opendata/dataset/nothing", "text/html,application/xhtml+xml,*/*;q=0.8"),
    ]:
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert "nothing" in response.text
    as_data = client.get("/opendata/dataset/nothing", headers={"Accept": "text/turtle"})
    assert as_data.status_code == 404
    assert as_data.json()["error"]["__type"] == "Not Found Error"
