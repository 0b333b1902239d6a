"""An entity's `expiresAt` is a member of the entity holding a DateTime (clauses 4.5.1, 4.22),
not a user Property."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
BAD = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
ID = "urn:ngsi-ld:T:x1"
URL = f"{E}/{ID}"
LATER = "2030-01-01T00:00:00Z"


def entity(expires: object) -> dict[str, object]:
    return {"id": ID, "type": "T", "expiresAt": expires, "a": {"type": "Property", "value": 1}}


@pytest.mark.parametrize("expires", ["soon", 5, {"type": "Property", "value": LATER}, None])
def test_an_expires_at_that_is_no_date_time_is_400(client: TestClient, expires: object) -> None:
    created = client.post(E, json=entity(expires))
    assert created.status_code == 400, created.text
    assert created.json()["type"] == BAD
    batch = client.post("/ngsi-ld/v1/entityOperations/create", json=[entity(expires)])
    assert batch.status_code == 207
    assert batch.json()["errors"][0]["error"]["type"] == BAD
    assert client.get(URL).status_code == 404
    assert client.post(E, json=entity(LATER)).status_code == 201
    assert client.patch(URL, json={"expiresAt": expires}).status_code == 400
    assert client.get(URL).json()["expiresAt"] == LATER


def test_expires_at_is_kept_as_a_member_of_the_entity(client: TestClient) -> None:
    assert client.post(E, json=entity(LATER)).status_code == 201
    got = client.get(URL, params={"options": "sysAttrs"}).json()
    assert got["expiresAt"] == LATER  # a DateTime, not {"type": "Property", ...}
    assert client.get(URL, params={"pick": "id,a"}).json() == {
        "id": ID,
        "a": {"type": "Property", "value": 1},
    }
    assert client.get(URL, params={"attrs": "nothing"}).status_code == 404
    assert "expiresAt" not in client.get(URL, params={"options": "keyValues"}).json()
    found = client.get(E, params={"type": "T", "attrs": "expiresAt"}).json()
    assert found == []  # no attribute of that name
    sooner = "2029-06-01T00:00:00Z"
    assert client.patch(URL, json={"expiresAt": sooner}).status_code == 204
    assert client.get(URL).json()["expiresAt"] == sooner
    assert client.patch(URL, json={"expiresAt": "urn:ngsi-ld:null"}).status_code == 204
    assert "expiresAt" not in client.get(URL).json()
    assert client.post(f"{URL}/attrs", json={"expiresAt": LATER}).status_code == 204
    assert client.get(URL).json()["expiresAt"] == LATER
    replaced = {"id": ID, "type": "T", "a": {"type": "Property", "value": 2}}
    assert client.put(URL, json=replaced).status_code == 204
    assert "expiresAt" not in client.get(URL).json()
