"""Terms of the core @context that are no Property of their own (`datasetId`, `value`,
`observedAt`, ...) are not Attribute names (clause 4.5.1): a BadRequestData naming them. They
were stored as attributes under the core IRIs (`ngsi-ld:hasValue`), and `createdAt`,
`modifiedAt` and `deletedAt` given as attributes were dropped without a word (201)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
ID = "urn:ngsi-ld:T:reserved"
NAMES = [
    "datasetId",
    "instanceId",
    "observedAt",
    "unitCode",
    "value",
    "object",
    "languageMap",
    "json",
    "vocab",
    "valueList",
    "objectList",
    "createdAt",
    "modifiedAt",
    "deletedAt",
    "https://uri.etsi.org/ngsi-ld/datasetId",
]


@pytest.mark.parametrize("name", NAMES)
def test_a_core_member_name_is_no_attribute_name(client: TestClient, name: str) -> None:
    body = {"id": ID, "type": "T", name: {"type": "Property", "value": 1}}
    answer = client.post(E, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"].endswith("BadRequestData")
    assert repr(name) in answer.json()["detail"]
    assert client.get(f"{E}/{ID}").status_code == 404


def test_system_times_given_as_times_are_ignored(client: TestClient) -> None:
    """An entity read with sysAttrs and written back: the broker keeps its own times."""
    when = "2020-01-01T00:00:00Z"
    body = {"id": ID, "type": "T", "createdAt": when, "modifiedAt": when, "name": "n"}
    assert client.post(E, json=body).status_code == 201
    got = client.get(f"{E}/{ID}", params={"options": "sysAttrs"}).json()
    assert got["createdAt"] != when
    assert got["name"]["value"] == "n"
    assert client.post(E, json={**body, "id": f"{ID}:2", "createdAt": "soon"}).status_code == 400
