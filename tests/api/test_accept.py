"""Content negotiation (clause 6.3.4, RFC 9110 section 12.5.1): each media type Dalgu can answer
weighs what the most specific range naming it says, so `application/json;q=0, */*` is JSON-LD."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
ONE = f"{E}/urn:ngsi-ld:Car:c3"

CASES = [
    ("application/json;q=0, */*", "application/ld+json"),
    ("application/json;q=0.1, application/*", "application/ld+json"),
    ("application/json;q=0.5, application/*;q=0.9", "application/ld+json"),
    ("application/json;q=0.1, application/ld+json;q=0.1, */*;q=0.5", "application/geo+json"),
    ("application/json;Q=0.5, application/ld+json;q=0.6", "application/ld+json"),
    # as before: the client's order between equal weights, JSON for a bare wildcard
    ("application/ld+json, application/json", "application/ld+json"),
    ("application/json, application/ld+json", "application/json"),
    ("*/*", "application/json"),
    ("application/*", "application/json"),
    ("text/html, */*;q=0.1", "application/json"),
    ("application/geo+json", "application/geo+json"),
    ("application/json; charset=utf-8", "application/json"),
]


@pytest.mark.parametrize(("accept", "expected"), CASES)
def test_the_most_specific_range_decides(client: TestClient, accept: str, expected: str) -> None:
    body = {"id": "urn:ngsi-ld:Car:c3", "type": "Car", "speed": {"type": "Property", "value": 3}}
    assert client.post(E, json=body).status_code == 201
    response = client.get(ONE, headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == expected


def test_nothing_acceptable_is_a_406_naming_what_is_available(client: TestClient) -> None:
    for accept in ("text/html", "application/json;q=0, application/ld+json;q=0"):
        response = client.get(E, params={"type": "Car"}, headers={"Accept": accept})
        assert response.status_code == 406, accept
        detail = response.json()["detail"]
        assert "application/json, application/ld+json, application/geo+json" in detail
