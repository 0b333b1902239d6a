"""The `type` parameter selects the target entity of Delete Attribute, Partial Attribute
Update, Replace Attribute and Replace Entity too (clauses 5.6.5.3, 5.6.4.3, 5.6.19.3,
5.6.18.3: "no existing Entity whose id (URI), and where specified type, is equivalent" is a
ResourceNotFound). They ignored it and wrote to an entity of another type."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
ID = "urn:ngsi-ld:T:guarded"
ENTITY = {
    "id": ID,
    "type": ["T", "T2"],
    "x": {"type": "Property", "value": 1},
    "scope": "/s",
}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("DELETE", "/attrs/x", None),
        ("DELETE", "/attrs/scope", None),
        ("PATCH", "/attrs/x", {"value": 5}),
        ("PUT", "/attrs/x", {"type": "Property", "value": 6}),
        ("PUT", "", {"type": "T", "n": {"type": "Property", "value": 1}}),
    ],
)
def test_a_write_to_an_entity_of_another_type_is_404(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    assert client.post(E, json=ENTITY).status_code == 201
    url = f"{E}/{ID}{path}"
    answer = client.request(method, url, params={"type": "Z"}, json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json()["type"].endswith("ResourceNotFound")
    assert client.get(f"{E}/{ID}").json() == ENTITY  # nothing written
    assert client.request(method, url, params={"type": "T2"}, json=body).status_code == 204
