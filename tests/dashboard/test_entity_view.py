"""The dashboard's links to entities: a browser cannot send `NGSILD-Tenant`, so they go to the
dashboard's own view of the entity (`/dashboard/entity`), which keeps the tenant."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from tests.dashboard.html import parse
from tests.dashboard.test_dashboard import alert, create, page, point

TENANT = "ops"


def seed_tenant(client: TestClient) -> None:
    create(client, alert(1, "2026-12-05T08:00:00Z", "high"), TENANT)
    zone = {
        "id": "urn:ngsi-ld:WifiPointOfInterest:z",
        "type": "WifiPointOfInterest",
        "location": point(128.6, 35.87),
    }
    unit = {
        "id": "urn:ngsi-ld:AccessPoint:a",
        "type": "AccessPoint",
        "refPointOfInterest": {"type": "Relationship", "object": zone["id"]},
    }
    create(client, zone, TENANT)
    create(client, unit, TENANT)


def entity_links(client: TestClient) -> list[str]:
    doc = page(client, f"?lang=en&tenant={TENANT}")
    return [
        a.attrs["href"]
        for a in doc.iter("a")
        if a.attrs.get("title", "").startswith("urn:ngsi-ld:")
    ]


def test_every_entity_link_of_a_tenant_opens_that_entity(client: TestClient) -> None:
    seed_tenant(client)
    links = entity_links(client)
    # the alert (its time), the zone (Wi-Fi table) and the located places
    assert len(links) >= 3
    for href in links:
        asked = parse_qs(urlsplit(href).query)
        assert asked["tenant"] == [TENANT], href
        answer = client.get(href)
        assert answer.status_code == 200, (href, answer.text)
        doc = parse(answer.text)
        assert asked["id"][0] in doc.text
        assert TENANT in doc.first("title").text


def test_the_entity_view_shows_attributes_and_the_ngsi_ld_document(client: TestClient) -> None:
    seed_tenant(client)
    answer = client.get(
        "/dashboard/entity",
        params={"id": "urn:ngsi-ld:AccessPoint:a", "tenant": TENANT, "lang": "en"},
    )
    assert answer.status_code == 200
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    doc = parse(answer.text)
    assert doc.first("html").attrs["lang"] == "en"
    rows = doc.first("table").rows()
    assert rows == [
        ["refPointOfInterest", "Relationship", "urn:ngsi-ld:WifiPointOfInterest:z", "none"]
    ]
    # the relationship's target opens in the same tenant
    target = next(a for a in doc.iter("a") if a.text == "urn:ngsi-ld:WifiPointOfInterest:z")
    assert client.get(target.attrs["href"]).status_code == 200
    assert '"type": "AccessPoint"' in doc.first("pre").text
    # the language switch stays on the entity
    korean = next(a for a in doc.iter("a") if a.attrs.get("hreflang") == "ko")
    assert korean.attrs["href"].startswith("/dashboard/entity?")
    assert "tenant=ops" in korean.attrs["href"]


def test_an_entity_of_another_tenant_is_not_found_and_a_bad_id_is_a_bad_request(
    client: TestClient,
) -> None:
    seed_tenant(client)
    elsewhere = client.get("/dashboard/entity", params={"id": "urn:ngsi-ld:AccessPoint:a"})
    assert elsewhere.status_code == 404
    assert elsewhere.json()["type"].endswith("ResourceNotFound")
    for bad in ("", "not an id", "urn:" + "x" * 3000):
        answer = client.get("/dashboard/entity", params={"id": bad, "tenant": TENANT})
        assert answer.status_code == 400, bad
