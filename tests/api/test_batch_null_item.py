"""A batch array holding a `null` item is refused whole, and nothing is written (clauses
5.6.7.4, 5.6.8.4, 5.6.9.4: "If the input Array is empty or contains a null value in any of
its items, an error of type BadRequestData shall be raised"; merge and delete alike). It was
one failed item of a 207, and the other items were written."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
OPS = "/ngsi-ld/v1/entityOperations"
ID = "urn:ngsi-ld:T:batch-null"
ENTITY = {"id": ID, "type": "T", "p": {"type": "Property", "value": 1}}
CHANGED = {"id": ID, "type": "T", "p": {"type": "Property", "value": 2}}


@pytest.mark.parametrize("op", ["create", "upsert"])
def test_a_null_item_creates_nothing(client: TestClient, op: str) -> None:
    for body in ([ENTITY, None], [None]):
        answer = client.post(f"{OPS}/{op}", json=body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"].endswith("BadRequestData")
    assert client.get(f"{E}/{ID}").status_code == 404


@pytest.mark.parametrize(
    ("op", "item"), [("update", CHANGED), ("merge", CHANGED), ("upsert", CHANGED), ("delete", ID)]
)
def test_a_null_item_changes_nothing(client: TestClient, op: str, item: object) -> None:
    assert client.post(E, json=ENTITY).status_code == 201
    answer = client.post(f"{OPS}/{op}", json=[item, None])
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"].endswith("BadRequestData")
    assert client.get(f"{E}/{ID}").json() == ENTITY
