"""The portal's IRIs dereference, with content negotiation (JSON-LD, Turtle, RDF/XML), as
DCAT-AP recommends and ckanext-dcat serves them: the catalogue, each dataset, distribution and
publisher, on both stores."""

from __future__ import annotations

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF
from starlette.testclient import TestClient

from dalgu.api.opendata.rdf import negotiate
from dalgu.errors import NotAcceptable
from tests.opendata.conftest import publish_in_process

# rdflib 7.6's JSON-LD parser makes a ConjunctiveGraph, which rdflib itself deprecates
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

DCAT = "http://www.w3.org/ns/dcat#"
FOAF = "http://xmlns.com/foaf/0.1/"
SERIALIZATIONS = [
    ("application/ld+json", "json-ld"),
    ("text/turtle", "turtle"),
    ("application/rdf+xml", "xml"),
]


def _graph(client: TestClient, url: str, accept: str, fmt: str) -> Graph:
    response = client.get(url, headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(accept)
    assert response.headers["vary"] == "Accept"
    return Graph().parse(data=response.text, format=fmt)


@pytest.mark.parametrize(("accept", "fmt"), SERIALIZATIONS)
def test_each_iri_of_the_catalogue_serves_its_description_in_the_accepted_serialization(
    portal_client: TestClient, accept: str, fmt: str
) -> None:
    publish_in_process(portal_client)
    catalog = _graph(portal_client, "/opendata/catalog", accept, fmt)
    (catalog_iri,) = catalog.subjects(RDF.type, URIRef(DCAT + "Catalog"))
    assert str(catalog_iri) == "http://testserver/opendata/catalog"
    (dataset,) = catalog.subjects(RDF.type, URIRef(DCAT + "Dataset"))
    distributions = set(catalog.subjects(RDF.type, URIRef(DCAT + "Distribution")))
    publishers = set(catalog.subjects(RDF.type, URIRef(FOAF + "Organization")))
    assert len(distributions) == 3 and len(publishers) == 2
    for iri, kind in [
        (dataset, DCAT + "Dataset"),
        *((d, DCAT + "Distribution") for d in distributions),
    ]:
        own = _graph(portal_client, str(iri), accept, fmt)
        assert (iri, RDF.type, URIRef(kind)) in own
    (organization,) = (p for p in publishers if "/organization/" in str(p))
    own = _graph(portal_client, str(organization), accept, fmt)
    assert (organization, RDF.type, URIRef(FOAF + "Organization")) in own


@pytest.mark.parametrize("extension", ["jsonld", "ttl", "rdf", "xml"])
def test_the_catalogue_and_a_dataset_are_served_by_extension_too(
    portal_client: TestClient, extension: str
) -> None:
    package = publish_in_process(portal_client)
    formats = {"jsonld": "json-ld", "ttl": "turtle", "rdf": "xml", "xml": "xml"}
    for url in (f"/opendata/catalog.{extension}", f"/opendata/dataset/{package['id']}.{extension}"):
        response = portal_client.get(url)
        assert response.status_code == 200
        graph = Graph().parse(data=response.text, format=formats[extension])
        assert any(graph.subjects(RDF.type, URIRef(DCAT + "Dataset")))


def test_an_iri_asked_for_in_a_serialization_it_has_not_is_406(portal_client: TestClient) -> None:
    package = publish_in_process(portal_client)
    response = portal_client.get(
        f"/opendata/dataset/{package['id']}", headers={"Accept": "image/png"}
    )
    assert response.status_code == 406
    assert portal_client.get("/opendata/resource/unknown").status_code == 404
    assert portal_client.get("/opendata/organization/nobody").status_code == 404


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/ld+json"),
        ("*/*", "application/ld+json"),
        ("text/turtle;q=0.9, application/rdf+xml", "application/rdf+xml"),
        ("application/*;q=0.5, text/turtle;q=0.8", "text/turtle"),
        ("text/*, text/turtle;q=0", "text/xml"),
    ],
)
def test_negotiation_takes_the_highest_q_of_the_most_specific_range(
    accept: str | None, chosen: str
) -> None:
    offered = ["application/ld+json", "text/turtle", "application/rdf+xml", "text/xml"]
    assert negotiate(accept, offered) == chosen


def test_negotiation_refuses_what_it_cannot_serve() -> None:
    with pytest.raises(NotAcceptable):
        negotiate("image/png, text/turtle;q=0", ["text/turtle"])


def test_a_browser_at_the_catalogue_s_iri_is_sent_to_its_page(portal_client: TestClient) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = portal_client.get(
        "/opendata/catalog", headers={"Accept": browser}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "http://testserver/opendata"
    assert response.headers["vary"] == "Accept"
    page = portal_client.get("/opendata/catalog", headers={"Accept": browser})
    assert page.headers["content-type"].startswith("text/html")
    tenant = portal_client.get(
        "/opendata/catalog", params={"tenant": "city2"}, headers={"Accept": "text/html"},
        follow_redirects=False,
    )  # fmt: skip
    assert tenant.headers["location"] == "http://testserver/opendata?tenant=city2"


@pytest.mark.parametrize("accept", ["text/html", "text/html;q=1, */*;q=0"])
def test_a_browser_at_a_distribution_is_sent_to_its_dataset_s_page_and_at_a_publisher_is_406(
    portal_client: TestClient, accept: str
) -> None:
    """RFC 9110, 12.5.1: `Accept` asks for HTML only (`*/*;q=0`: "not acceptable"), and a
    publisher's IRI has no page: a 406, as docs/opendata.md says ("a 406 when it accepts none
    of them"), not its JSON-LD with a 200, which a browser saved as a file. A distribution's
    IRI sends a browser on to the page that lists it, its dataset's landing page."""
    package = publish_in_process(portal_client)
    resource = package["resources"][0]["id"]
    response = portal_client.get(
        f"/opendata/resource/{resource}", headers={"Accept": accept}, follow_redirects=False
    )
    assert response.status_code == 303
    landing = f"http://testserver/opendata/dataset/{package['id']}.html#downloads-heading"
    assert response.headers["location"] == landing
    assert response.headers["vary"] == "Accept"
    publisher = portal_client.get(
        f"/opendata/organization/{package['organization']['name']}", headers={"Accept": accept}
    )
    assert publisher.status_code == 406
    assert "text/html" not in publisher.json()["error"]["message"]
    assert publisher.headers["vary"] == "Accept"


@pytest.mark.parametrize("iri", ["dataset", "resource", "organization", "catalog", "home"])
def test_a_406_says_it_depended_on_accept(portal_client: TestClient, iri: str) -> None:
    """RFC 9110, 12.5.5: "An origin server SHOULD send a Vary header field when its algorithm
    for selecting a representation varies based on aspects of the request message other than
    the method and target URI": a cache must not give this 406 to a client that accepts
    another type."""
    package = publish_in_process(portal_client)
    urls = {
        "dataset": f"/opendata/dataset/{package['id']}",
        "resource": f"/opendata/resource/{package['resources'][0]['id']}",
        "organization": f"/opendata/organization/{package['organization']['name']}",
        "catalog": "/opendata/catalog",
        "home": "/opendata",
    }
    response = portal_client.get(urls[iri], headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.headers["vary"] == "Accept"
