"""`type=*`: entities of every type, local (ETSI GS CIM 009 V1.9.1 Table 6.4.3.2-1: "'*' is
also allowed as a value and local is implicitly set to true and shall not be explicitly set to
false"), in GET /entities, the query operation and the temporal API, on every store."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"


@pytest.fixture
def mixed(client: TestClient) -> TestClient:
    for n, kind in enumerate(["Car", "Boat", "Car", "Tram"]):
        body = {
            "id": f"urn:ngsi-ld:{kind}:{n}",
            "type": kind,
            "speed": {"type": "Property", "value": n},
        }
        assert client.post(E, json=body).status_code == 201
    return client


ALL = ["urn:ngsi-ld:Boat:1", "urn:ngsi-ld:Car:0", "urn:ngsi-ld:Car:2", "urn:ngsi-ld:Tram:3"]


def ids(response: object) -> list[str]:
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    return sorted(e["id"] for e in response.json())  # type: ignore[attr-defined]


def test_type_star_selects_every_type(mixed: TestClient) -> None:
    assert ids(mixed.get(E, params={"type": "*"})) == ALL
    assert ids(mixed.get(E, params={"type": "*", "local": "true"})) == ALL
    assert ids(mixed.get(E, params={"type": "*", "q": "speed>=2"})) == ALL[2:]
    assert ids(mixed.get(E, params={"type": "Boat,*"})) == ALL
    counted = mixed.get(E, params={"type": "*", "count": "true", "limit": "1"})
    assert counted.headers["NGSILD-Results-Count"] == "4"
    body = {"type": "Query", "entities": [{"type": "*"}]}
    assert ids(mixed.post("/ngsi-ld/v1/entityOperations/query", json=body)) == ALL
    temporal = mixed.get(
        "/ngsi-ld/v1/temporal/entities",
        params={
            "type": "*",
            "timerel": "after",
            "timeAt": "2000-01-01T00:00:00Z",
            "timeproperty": "createdAt",
        },
    )
    assert ids(temporal) == ALL


def test_type_star_with_local_false_is_refused(mixed: TestClient) -> None:
    response = mixed.get(E, params={"type": "*", "local": "false"})
    assert response.status_code == 400
    assert response.json()["type"].endswith("/BadRequestData")
    assert "local shall not be false" in response.json()["detail"]
