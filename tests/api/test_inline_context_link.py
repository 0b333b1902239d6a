"""A JSON answer links to the request's @context (clause 6.3.6); for an inline one the Link
named a /jsonldContexts id that was never hosted (404), so a JSON-LD client could not read
the answer (an outside test, round 6). It is hosted as ImplicitlyCreated now."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.testclient import TestClient

QUERY = "/ngsi-ld/v1/entityOperations/query"
CONTEXT = {"Red": "http://example.org/colors/Red", "color": "http://example.org/color"}
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"


def test_a_post_query_with_an_inline_context_links_to_a_context_that_resolves(
    client: TestClient,
) -> None:
    context = [CONTEXT, CORE]
    bus = {"id": "urn:ngsi-ld:Bus:1", "type": "Bus", "color": {"vocab": "Red"}, "@context": context}
    ld = {"Content-Type": "application/ld+json"}
    assert client.post("/ngsi-ld/v1/entities", json=bus, headers=ld).status_code == 201
    body = {"type": "Query", "entities": [{"type": "Bus"}], "@context": context}
    answer = client.post(
        QUERY,
        json=body,
        headers={**ld, "Accept": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["color"]["vocab"] == "Red"
    url = answer.headers["link"].split(">")[0].lstrip("<")
    hosted = client.get(urlsplit(url).path)
    assert hosted.status_code == 200, url
    assert hosted.json()["@context"] == context
    details = client.get("/ngsi-ld/v1/jsonldContexts", params={"details": "true"}).json()
    assert any(c["URL"] == url and c["kind"] == "ImplicitlyCreated" for c in details)


def test_a_temporal_post_query_with_an_inline_context_links_to_it_too(client: TestClient) -> None:
    context = [CONTEXT, CORE]
    bus = {"id": "urn:ngsi-ld:Bus:2", "type": "Bus", "color": {"vocab": "Red"}, "@context": context}
    ld = {"Content-Type": "application/ld+json"}
    assert client.post("/ngsi-ld/v1/entities", json=bus, headers=ld).status_code == 201
    body = {
        "type": "Query",
        "entities": [{"type": "Bus"}],
        "temporalQ": {"timerel": "after", "timeAt": "2000-01-01T00:00:00Z"},
        "@context": context,
    }
    answer = client.post(
        "/ngsi-ld/v1/temporal/entityOperations/query",
        json=body,
        headers={**ld, "Accept": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    url = answer.headers["link"].split(">")[0].lstrip("<")
    assert client.get(urlsplit(url).path).json()["@context"] == context
