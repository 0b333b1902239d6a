"""A BatchOperationResult's errors name each failed item by a URI (ETSI GS CIM 009 V1.9.1
clause 5.2.17: `entityId` is a "Valid URI", cardinality 1), also for an item with no usable
id: `urn:dalgu:batch-item:<position>`, its place in the request array (outside tester
http-16); the other items are still done."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

OPS = "/ngsi-ld/v1/entityOperations/"


@pytest.mark.parametrize(
    ("operation", "body", "failed"),
    [
        ("create", [{"type": "Car"}, {"id": "urn:ngsi-ld:Car:okb", "type": "Car"}], 0),
        ("upsert", [{"id": "urn:ngsi-ld:Car:oku", "type": "Car"}, "notanobject"], 1),
        ("update", [{"id": "urn:ngsi-ld:Car:okb"}, {"id": 7}], 1),
        ("delete", ["urn:ngsi-ld:Car:okb", 1, "not a uri"], 1),
    ],
)
def test_an_item_without_a_usable_id_is_named_by_its_position(
    client: TestClient, operation: str, body: list[object], failed: int
) -> None:
    seed = [{"id": "urn:ngsi-ld:Car:okb", "type": "Car"}]
    if operation != "create":
        assert client.post(OPS + "create", json=seed).status_code == 201
    response = client.post(OPS + operation, json=body)
    assert response.status_code == 207, response.text
    errors = response.json()["errors"]
    assert f"urn:dalgu:batch-item:{failed}" in [e["entityId"] for e in errors]
    assert all(isinstance(e["entityId"], str) and ":" in e["entityId"] for e in errors)


def test_a_failed_item_with_an_id_is_named_by_it(client: TestClient) -> None:
    body = [{"id": "urn:ngsi-ld:Car:x"}]  # no type: refused, but its id is known
    response = client.post(OPS + "create", json=body)
    assert response.json()["errors"][0]["entityId"] == "urn:ngsi-ld:Car:x"
