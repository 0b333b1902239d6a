"""The `Prefer` header (ETSI GS CIM 009 V1.9.1 clause 6.3.6, RFC 7240): `ngsi-ld=1.9` is
acknowledged with `Preference-Applied`, and `body=json` with GeoJSON leaves @context out of the
body, in the `Link` header instead (outside tester http-8)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
ONE = E + "/urn:ngsi-ld:Car:1"
GEO = "application/geo+json"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"


@pytest.fixture
def car(client: TestClient) -> TestClient:
    body = {
        "id": "urn:ngsi-ld:Car:1",
        "type": "Car",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}},
    }
    assert client.post(E, json=body).status_code == 201
    return client


@pytest.mark.parametrize("accept", ["application/json", "application/ld+json"])
@pytest.mark.parametrize("url", [ONE, E + "?type=Car"])
def test_a_version_preference_of_1_9_is_applied(car: TestClient, url: str, accept: str) -> None:
    response = car.get(url, headers={"Prefer": "ngsi-ld=1.9", "Accept": accept})
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "ngsi-ld=1.9"


def test_another_version_is_not_claimed(car: TestClient) -> None:
    response = car.get(ONE, headers={"Prefer": "ngsi-ld=1.6"})
    assert response.status_code == 200
    assert "Preference-Applied" not in response.headers


@pytest.mark.parametrize("url", [ONE, E + "?type=Car"])
def test_geojson_with_body_json_has_its_context_in_the_link(car: TestClient, url: str) -> None:
    response = car.get(url, headers={"Accept": GEO, "Prefer": "body=json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GEO)
    assert "@context" not in response.json()
    assert CORE in response.headers["Link"]
    assert "body=json" in response.headers["Preference-Applied"]
    plain = car.get(url, headers={"Accept": GEO})  # without the preference: in the body
    assert plain.json()["@context"] == CORE
