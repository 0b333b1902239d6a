"""NGSI-LD answers depend on `Accept`, `Link`, `NGSILD-Tenant` and `Fiware-Service`: each says
so in `Vary` (RFC 9110 §12.5.5), or a shared cache in front could serve one tenant's data to
another, or JSON to a JSON-LD client (outside tester http, SHOULD remark), the GET shortcut's
answers included."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
VARIED = {"accept", "link", "ngsild-tenant", "fiware-service"}


def varied(response: object) -> set[str]:
    values = response.headers.get_list("vary")  # type: ignore[attr-defined]
    return {v.strip().lower() for value in values for v in value.split(",")}


@pytest.fixture
def car(client: TestClient) -> TestClient:
    body = {"id": "urn:ngsi-ld:Car:1", "type": "Car", "speed": {"type": "Property", "value": 1}}
    assert client.post(E, json=body).status_code == 201
    return client


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (E + "/urn:ngsi-ld:Car:1", {}),  # the shortcut (no parameters, no Link)
        (E + "/urn:ngsi-ld:Car:1", {"Accept": "application/ld+json"}),  # the shortcut too
        (E + "/urn:ngsi-ld:Car:1?options=keyValues", {}),
        (E + "?type=Car", {"NGSILD-Tenant": "other"}),
        (E + "/urn:ngsi-ld:Car:404", {}),  # an error depends on the tenant too
        ("/ngsi-ld/v1/types", {}),
    ],
)
def test_answers_name_the_headers_they_vary_on(
    car: TestClient, path: str, headers: dict[str, str]
) -> None:
    response = car.get(path, headers=headers)
    assert varied(response) >= VARIED, response.headers
