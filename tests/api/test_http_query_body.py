"""A POST query's body is a Query (ETSI GS CIM 009 V1.9.1 clause 5.2.23): a member it does not
define is a 400 BadRequestData naming it, as an unknown URI parameter is an error, rather than
a filter silently dropped (a misspelt `geoq` answered every entity; outside tester http-18)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

Q = "/ngsi-ld/v1/entityOperations/query"
TQ = "/ngsi-ld/v1/temporal/entityOperations/query"
TEMPORAL = {"timerel": "after", "timeAt": "2000-01-01T00:00:00Z", "timeproperty": "createdAt"}


@pytest.fixture
def car(client: TestClient) -> TestClient:
    body = {"id": "urn:ngsi-ld:Car:1", "type": "Car", "speed": {"type": "Property", "value": 1}}
    assert client.post("/ngsi-ld/v1/entities", json=body).status_code == 201
    return client


@pytest.mark.parametrize("path", [Q, TQ])
def test_an_unknown_query_member_is_refused_by_name(car: TestClient, path: str) -> None:
    near = {"geometry": "Point", "coordinates": [128.5, 35.3], "georel": "near;maxDistance==1"}
    body = {"type": "Query", "entities": [{"type": "Car"}], "temporalQ": TEMPORAL, "geoq": near}
    response = car.post(path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/BadRequestData")
    assert "geoq" in response.json()["detail"]


@pytest.mark.parametrize("path", [Q, TQ])
def test_the_members_of_a_query_are_taken(car: TestClient, path: str) -> None:
    body = {
        "type": "Query",
        "entities": [{"type": "Car"}],
        "attrs": ["speed"],
        "q": "speed==1",
        "temporalQ": TEMPORAL,
        "scopeQ": None,
        "csf": None,
        "lang": "en",
        "geometryProperty": "location",  # the ETSI suite sends it in the body
    }
    body = {k: v for k, v in body.items() if v is not None}
    response = car.post(path, json=body)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == ["urn:ngsi-ld:Car:1"]
