"""A ListProperty's `valueList` or a ListRelationship's `objectList` of one NGSI-LD Null
deletes the attribute in a partial update or a merge (clauses 4.5.21.2, 4.5.22.3, 5.5.8,
5.5.12), as the other kinds' Nulls do; it was stored as a list holding the Null."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
NULL = "urn:ngsi-ld:null"
BUS = {
    "id": "urn:ngsi-ld:Bus:m",
    "type": "Bus",
    "periods": {"type": "ListProperty", "valueList": ["a", "b"]},
    "route": {"type": "ListRelationship", "objectList": [{"object": "urn:ngsi-ld:Stop:1"}]},
    "kept": {"type": "Property", "value": 1},
}


@pytest.mark.parametrize(
    ("path", "body", "gone"),
    [
        ("", {"periods": {"type": "ListProperty", "valueList": [NULL]}}, "periods"),
        ("", {"periods": {"valueList": [NULL]}}, "periods"),  # concise
        ("", {"route": {"type": "ListRelationship", "objectList": [NULL]}}, "route"),
        ("", {"route": {"objectList": [{"object": NULL}]}}, "route"),
        ("/attrs/periods", {"type": "ListProperty", "valueList": [NULL]}, "periods"),
        ("/attrs/route", {"objectList": [NULL]}, "route"),
    ],
)
def test_a_list_of_one_null_deletes_the_list_attribute(
    client: TestClient, path: str, body: dict[str, object], gone: str
) -> None:
    assert client.post(E, json=BUS).status_code == 201
    url = f"{E}/{BUS['id']}"
    assert client.patch(url + path, json=body).status_code == 204
    entity = client.get(url).json()
    assert gone not in entity
    assert entity["kept"]["value"] == 1
    assert {"periods", "route"} - {gone} <= set(entity)


def test_a_list_holding_a_null_among_other_values_is_a_value(client: TestClient) -> None:
    assert client.post(E, json=BUS).status_code == 201
    url = f"{E}/{BUS['id']}"
    body = {"periods": {"type": "ListProperty", "valueList": [NULL, "c"]}}
    assert client.patch(url, json=body).status_code == 204
    assert client.get(url).json()["periods"]["valueList"] == [NULL, "c"]
