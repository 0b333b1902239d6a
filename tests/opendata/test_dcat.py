"""The DCAT-AP catalogue, read as linked data (pyld expands it): a dcat:Catalog whose datasets
carry their CKAN metadata and a distribution per download that serves it, on both stores."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pyld import jsonld
from rdflib import Graph
from starlette.testclient import TestClient

from dalgu.api.opendata.rdf import serialized
from tests.opendata.conftest import TOKEN, publish_in_process, station

DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"


def _expanded(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/opendata/catalog.jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    expanded: list[dict[str, Any]] = jsonld.expand(orjson.loads(response.content))
    return expanded


def _values(node: dict[str, Any], iri: str) -> list[Any]:
    return [v.get("@value", v.get("@id")) for v in node.get(iri, [])]


def test_catalog_expands_to_dcat_datasets_with_their_metadata(portal_client: TestClient) -> None:
    publish_in_process(portal_client)
    (catalog,) = _expanded(portal_client)
    assert catalog["@type"] == [DCAT + "Catalog"]
    (dataset,) = catalog[DCAT + "dataset"]
    assert dataset["@type"] == [DCAT + "Dataset"]
    assert _values(dataset, DCT + "title") == ["Daegu air quality"]
    assert _values(dataset, DCT + "description") == ["PM10 of the city's air-quality stations"]
    assert sorted(_values(dataset, DCAT + "keyword")) == ["air", "environment"]
    assert _values(dataset, DCT + "license") == ["https://www.kogl.or.kr/info/licenseType1.do"]
    (modified,) = dataset[DCT + "modified"]
    assert modified["@type"] == "http://www.w3.org/2001/XMLSchema#dateTime"
    (publisher,) = dataset[DCT + "publisher"]
    assert _values(publisher, FOAF + "name") == ["daegu-city"]


def test_each_distribution_names_a_media_type_and_a_download_that_serves_it(
    portal_client: TestClient,
) -> None:
    portal_client.post("/ngsi-ld/v1/entities", json=station("jung-1", 41))
    publish_in_process(portal_client)
    (catalog,) = _expanded(portal_client)
    distributions = catalog[DCAT + "dataset"][0][DCAT + "distribution"]
    iana = "https://www.iana.org/assignments/media-types/"
    media = sorted(_values(d, DCAT + "mediaType")[0].removeprefix(iana) for d in distributions)
    assert media == ["application/geo+json", "application/vnd.apache.parquet", "text/csv"]
    for distribution in distributions:
        (url,) = _values(distribution, DCAT + "downloadURL")
        assert _values(distribution, DCAT + "accessURL") == [url]
        response = portal_client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] in media


def test_an_empty_catalog_has_no_datasets(portal_client: TestClient) -> None:
    (catalog,) = _expanded(portal_client)
    assert catalog["@type"] == [DCAT + "Catalog"]
    assert catalog.get(DCAT + "dataset", []) == []


# rdflib 7.6's N-Quads parser uses its own deprecated Dataset.default_context
@pytest.mark.filterwarnings("ignore:Dataset.default_context is deprecated:DeprecationWarning")
def test_the_turtle_catalog_is_the_graph_of_the_json_ld_one(portal_client: TestClient) -> None:
    from rdflib import Graph, Literal, Namespace, URIRef
    from rdflib.compare import isomorphic
    from rdflib.namespace import RDF

    publish_in_process(portal_client)
    ttl = portal_client.get("/opendata/catalog.ttl")
    assert ttl.status_code == 200 and ttl.headers["content-type"].startswith("text/turtle")
    from_turtle = Graph().parse(data=ttl.text, format="turtle")
    document = orjson.loads(portal_client.get("/opendata/catalog.jsonld").content)
    nquads = jsonld.to_rdf(document, {"format": "application/n-quads"})
    from_json_ld = Graph().parse(data=nquads, format="nquads")
    assert isomorphic(from_turtle, from_json_ld)
    dcat, dct = Namespace(DCAT), Namespace(DCT)
    (dataset,) = from_turtle.subjects(RDF.type, dcat.Dataset)
    assert from_turtle.value(dataset, dct.title) == Literal("Daegu air quality")
    downloads = set(from_turtle.objects(None, dcat.downloadURL))
    package_id = str(dataset).rsplit("/", 1)[1]
    by_id = f"http://testserver/opendata/dataset/{package_id}/download/daegu-air.csv"
    assert URIRef(by_id) in downloads


def test_a_dataset_iri_serves_its_dcat_description(portal_client: TestClient) -> None:
    publish_in_process(portal_client)
    (catalog,) = _expanded(portal_client)
    iri = catalog[DCAT + "dataset"][0]["@id"]
    response = portal_client.get(iri)
    assert response.status_code == 200
    (node,) = jsonld.expand(orjson.loads(response.content))
    assert node["@id"] == iri and node["@type"] == [DCAT + "Dataset"]
    assert portal_client.get("/opendata/dataset/unknown").status_code == 404


def test_the_catalog_names_its_publisher_as_dcat_ap_requires(portal_client: TestClient) -> None:
    (catalog,) = _expanded(portal_client)
    (publisher,) = catalog[DCT + "publisher"]
    assert publisher["@type"] == [FOAF + "Organization", FOAF + "Agent"]
    assert _values(publisher, FOAF + "name") == ["Dalgu open data"]


def test_a_dataset_without_notes_has_a_description_that_is_not_empty(
    portal_client: TestClient,
) -> None:
    publish_in_process(portal_client, notes="")
    (catalog,) = _expanded(portal_client)
    (description,) = _values(catalog[DCAT + "dataset"][0], DCT + "description")
    assert description.strip() and "AirQualityObserved" in description


def test_each_distribution_s_format_is_the_eu_file_type(portal_client: TestClient) -> None:
    publish_in_process(portal_client)
    (catalog,) = _expanded(portal_client)
    distributions = catalog[DCAT + "dataset"][0][DCAT + "distribution"]
    formats = sorted(_values(d, DCT + "format")[0] for d in distributions)
    eu = "http://publications.europa.eu/resource/authority/file-type/"
    assert formats == [eu + "CSV", eu + "GEOJSON", eu + "PARQUET"]
    assert all(_values(d, DCAT + "mediaType") for d in distributions)


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_turtle_and_json_ld_write_each_time_in_one_canonical_form(
    portal_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rdflib
    from rdflib import Graph
    from rdflib.compare import isomorphic
    from rdflib.namespace import XSD

    publish_in_process(portal_client)
    ttl = portal_client.get("/opendata/catalog.ttl").text
    json_ld = portal_client.get("/opendata/catalog.jsonld").text
    # RDF 1.1 term equality: "…Z" and "…+00:00" are two literals, as a harvester diffing
    # triples sees them (rdflib's default would read both into one datetime)
    monkeypatch.setattr(rdflib, "NORMALIZE_LITERALS", False)
    from_turtle = Graph().parse(data=ttl, format="turtle")
    from_json_ld = Graph().parse(data=json_ld, format="json-ld")
    assert isomorphic(from_turtle, from_json_ld)
    times = [o for o in from_turtle.objects() if getattr(o, "datatype", None) == XSD.dateTime]
    assert len(times) == 4  # the dataset's and the catalogue's issued and modified
    for time in times:
        assert str(time).endswith("Z") and "+" not in str(time)
        assert not str(time).split(".")[-1].rstrip("Z").endswith("0")


def test_a_dataset_without_an_organization_is_published_by_the_portal(
    portal_client: TestClient,
) -> None:
    publish_in_process(portal_client, owner_org=None)
    (catalog,) = _expanded(portal_client)
    (portal_publisher,) = catalog[DCT + "publisher"]
    (publisher,) = catalog[DCAT + "dataset"][0][DCT + "publisher"]
    assert publisher["@id"] == portal_publisher["@id"]
    assert _values(publisher, FOAF + "name") == ["Dalgu open data"]


def test_a_dataset_iri_is_by_id_and_stays_when_it_is_renamed(portal_client: TestClient) -> None:
    package = publish_in_process(portal_client)
    (catalog,) = _expanded(portal_client)
    iri = catalog[DCAT + "dataset"][0]["@id"]
    assert iri == f"http://testserver/opendata/dataset/{package['id']}"
    renamed = portal_client.post(
        "/opendata/api/3/action/package_patch",
        json={"id": "daegu-air", "name": "daegu-air-pm10"},
        headers={"Authorization": TOKEN},
    )
    assert renamed.status_code == 200
    (catalog,) = _expanded(portal_client)
    assert catalog[DCAT + "dataset"][0]["@id"] == iri
    (node,) = jsonld.expand(orjson.loads(portal_client.get(iri).content))
    assert node["@id"] == iri
    by_name = portal_client.get("/opendata/dataset/daegu-air-pm10", follow_redirects=False)
    assert by_name.status_code == 302 and by_name.headers["location"].endswith(package["id"])
    assert portal_client.get("/opendata/dataset/daegu-air-pm10").json()["@id"] == iri
    assert portal_client.get("/opendata/dataset/daegu-air").status_code == 404


def test_a_dataset_says_it_is_continuously_updated(portal_client: TestClient) -> None:
    """Its downloads are made from the live data; dct:modified is its description's time."""
    publish_in_process(portal_client)
    (catalog,) = _expanded(portal_client)
    (dataset,) = catalog[DCAT + "dataset"]
    (frequency,) = dataset[DCT + "accrualPeriodicity"]
    assert frequency["@id"] == (
        "http://publications.europa.eu/resource/authority/frequency/UPDATE_CONT"
    )
    assert frequency["@type"] == [DCT + "Frequency"]


def test_rdf_xml_of_a_dataset_kept_with_a_character_xml_cannot_hold_is_well_formed() -> None:
    """XML 1.0, 2.2 (Char): a dataset kept before such characters were refused at
    package_create must not break the RDF/XML of the whole catalogue: they are left out."""
    document = {
        "@context": {"dct": "http://purl.org/dc/terms/"},
        "@id": "http://example.org/d",
        "dct:title": "ctrl \u0001 emoji \U0001f600 and \ufffe",
    }
    xml = serialized(document, "rdf", {})
    title = next(Graph().parse(data=xml, format="xml").objects())
    assert str(title) == "ctrl  emoji \U0001f600 and "


def test_the_recommended_properties_dalgu_has_the_data_for_are_there(
    portal_client: TestClient,
) -> None:
    """DCAT-AP 3.0.1's recommended shapes (shapes_recommended.ttl): a distribution's
    `dct:description` (the CKAN resource's, the de-identification policy), the catalogue's
    `dct:issued` and `dct:modified`, a licence's `dct:type` (ADMS), and each publisher a
    `foaf:Agent` (the range of `dct:publisher`), said for validators without FOAF."""
    first = publish_in_process(portal_client)
    second = publish_in_process(portal_client, "daegu-air-2", license_id="ODbL-1.0")
    (catalog,) = _expanded(portal_client)
    assert _values(catalog, DCT + "issued")[0].startswith(first["metadata_created"][:19])
    assert _values(catalog, DCT + "modified")[0].startswith(second["metadata_modified"][:19])
    for dataset in catalog[DCAT + "dataset"]:
        for distribution in dataset[DCAT + "distribution"]:
            (described,) = _values(distribution, DCT + "description")
            assert described.startswith("De-identified download: locations snapped")
        (publisher,) = dataset[DCT + "publisher"]
        assert FOAF + "Agent" in publisher["@type"]
    licences = {
        d[DCT + "license"][0]["@id"]: [t["@id"] for t in d[DCT + "license"][0][DCT + "type"]]
        for d in catalog[DCAT + "dataset"]
    }
    adms = "http://purl.org/adms/licencetype/"
    assert sorted(licences.values()) == [
        [adms + "Attribution"],
        [adms + "Attribution", adms + "ShareAlike"],
    ]
