"""The DCAT catalogue in pages of 100 datasets, as ckanext-dcat serves it (`?page=`,
`?modified_since=`, a `hydra:PagedCollection` node), read as linked data (pyld, rdflib)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from pyld import jsonld
from rdflib import Graph, Literal, Namespace
from rdflib.namespace import RDF
from starlette.testclient import TestClient

from dalgu.api.opendata.dcat import PAGE_SIZE, paged_catalog
from dalgu.opendata.model import Dataset
from tests.opendata.conftest import publish_in_process

DCAT = Namespace("http://www.w3.org/ns/dcat#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
BASE = "http://city.example"
URL = BASE + "/opendata/catalog.jsonld"


def _dataset(name: str, modified: str) -> Dataset:
    document = {
        "id": name,
        "name": name,
        "title": name,
        "created": modified,
        "modified": modified,
        "publication": {"entity_type": "Vehicle", "attributes": ["speed"]},
        "policy": {},
    }
    return Dataset.from_document(document)


def _graph(document: dict[str, Any]) -> Graph:
    graph = Graph()
    with warnings.catch_warnings():  # rdflib's JSON-LD parser makes a ConjunctiveGraph
        warnings.simplefilter("ignore", DeprecationWarning)
        graph.parse(data=orjson.dumps(document).decode(), format="json-ld")
    return graph


def _page_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["page"][0])


def _after_of(url: str) -> str | None:
    return parse_qs(urlsplit(url).query).get("after", [None])[0]


def _members(document: dict[str, Any]) -> tuple[list[str], str]:
    """The dataset names of a page, and the URL of the next one ("" for none)."""
    graph = _graph(document)
    (catalog,) = graph.subjects(RDF.type, DCAT.Catalog)
    (paging,) = graph.subjects(RDF.type, HYDRA.PagedCollection)
    following = graph.value(paging, HYDRA.nextPage)
    names = [str(m).rsplit("/", 1)[1] for m in graph.objects(catalog, DCAT.dataset)]
    return names, str(following) if following is not None else ""


def test_following_the_next_links_reads_each_dataset_once_while_others_change() -> None:
    """A harvester following `hydra:nextPage` while datasets are changed, deleted and
    created: every dataset there throughout is read exactly once (odata-5)."""
    datasets = [
        _dataset(f"set-{i:03d}", f"2026-12-01T10:{i // 60:02d}:{i % 60:02d}.000000")
        for i in range(250)
    ]
    seen, url = _members(paged_catalog(BASE, URL, datasets, 1, None))
    # meanwhile: an old dataset is edited, one already read is deleted, one is created
    edited = _dataset("set-010", "2026-12-02T00:00:00.000000")
    datasets = [edited if d.name == "set-010" else d for d in datasets if d.name != seen[0]]
    datasets.append(_dataset("set-999", "2026-12-02T00:00:01.000000"))
    while url:
        names, url = _members(
            paged_catalog(BASE, URL, datasets, _page_of(url), None, after=_after_of(url))
        )
        seen += names
    assert len(seen) == len(set(seen))
    assert set(seen) >= {d.name for d in datasets}


def test_a_catalogue_of_250_reads_in_three_pages_by_id_each_dataset_once() -> None:
    datasets = [
        _dataset(f"set-{i:03d}", f"2026-12-01T10:{i // 60:02d}:{i % 60:02d}.000000")
        for i in range(250)
    ]
    seen: list[str] = []
    url = URL + "?page=1"
    pages = 0
    while url:
        page = paged_catalog(BASE, URL, datasets, _page_of(url), None, after=_after_of(url))
        graph = _graph(page)
        pages += 1
        (paging,) = graph.subjects(RDF.type, HYDRA.PagedCollection)
        assert str(paging) == url
        assert graph.value(paging, HYDRA.totalItems) == Literal(250)
        assert graph.value(paging, HYDRA.itemsPerPage) == Literal(PAGE_SIZE)
        assert _page_of(str(graph.value(paging, HYDRA.lastPage))) == 3
        (catalog,) = graph.subjects(RDF.type, DCAT.Catalog)
        members = list(graph.objects(catalog, DCAT.dataset))
        assert len(members) == (50 if pages == 3 else 100)
        seen += [str(m).rsplit("/", 1)[1] for m in members]
        following = graph.value(paging, HYDRA.nextPage)
        url = str(following) if following is not None else ""
    assert pages == 3
    assert sorted(seen) == sorted(d.name for d in datasets) and len(seen) == 250
    # in the order of the datasets' ids: page one holds the 100 first
    first = paged_catalog(BASE, URL, datasets, 1, None)
    names = {n["@id"].rsplit("/", 1)[1] for n in first["@graph"][0]["dcat:dataset"]}
    assert names == {f"set-{i:03d}" for i in range(100)}


def test_modified_since_keeps_the_newer_datasets_in_the_next_links_too() -> None:
    datasets = [_dataset(f"set-{i:03d}", f"2026-12-0{1 + i % 3}T00:00:00.000000") for i in range(9)]
    since = datetime(2026, 12, 2, tzinfo=UTC)
    document = paged_catalog(BASE, URL, datasets, None, since)
    catalog, paging = document["@graph"]
    assert len(catalog["dcat:dataset"]) == 6
    assert paging["hydra:totalItems"] == 6
    assert parse_qs(urlsplit(paging["hydra:firstPage"]).query)["modified_since"] == [
        since.isoformat()
    ]


def test_a_small_catalogue_without_page_is_unchanged_and_expands(portal_client: TestClient) -> None:
    publish_in_process(portal_client)
    document = portal_client.get("/opendata/catalog.jsonld").json()
    assert "hydra" not in document["@context"] and "@graph" not in document
    paged = portal_client.get("/opendata/catalog.jsonld?page=1")
    assert paged.status_code == 200
    expanded = jsonld.expand(paged.json())
    types = {t for node in expanded for t in node.get("@type", [])}
    assert str(DCAT.Catalog) in types and str(HYDRA.PagedCollection) in types
    turtle = portal_client.get("/opendata/catalog.ttl?page=1")
    assert turtle.status_code == 200
    graph = Graph().parse(data=turtle.text, format="turtle")
    (paging,) = graph.subjects(RDF.type, HYDRA.PagedCollection)
    assert str(paging).endswith("/opendata/catalog.ttl?page=1")


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page=0", 409),
        ("page=x", 409),
        ("page=-1", 409),
        ("modified_since=yesterday", 409),
        ("page=2", 404),
    ],
)
def test_a_page_that_is_not_there_is_a_clear_error(  # 409: CKAN's status of a Validation Error
    portal_client: TestClient, query: str, status: int
) -> None:
    publish_in_process(portal_client)
    for extension in ("jsonld", "ttl"):
        response = portal_client.get(f"/opendata/catalog.{extension}?{query}")
        assert response.status_code == status, response.text
        assert response.json()["success"] is False


def test_after_asks_for_the_datasets_whose_ids_follow(portal_client: TestClient) -> None:
    ids = sorted(publish_in_process(portal_client, name)["id"] for name in ("air-a", "air-b"))
    response = portal_client.get(f"/opendata/catalog.jsonld?page=2&after={ids[0]}")
    assert response.status_code == 200, response.text
    names, following = _members(response.json())
    assert names == [ids[1]]
    assert following == ""
    past = portal_client.get(f"/opendata/catalog.ttl?page=2&after={ids[1]}")
    assert past.status_code == 200  # a next link made before a deletion still answers
    assert portal_client.get("/opendata/catalog.ttl?page=1&after=").status_code == 409
