"""One write, one modification instant (clause 4.8: `modifiedAt` is when "the Entity,
Property or Relationship was last modified"): the entity's `modifiedAt` and those of the
attributes a PATCH or POST of attributes changed are the same time. The attributes were
stamped when the body was read and the entity when the write began; a millisecond passing in
between set them apart (seen on PostgreSQL by outside tester tdiff-10)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from dalgu.broker import service

E = "/ngsi-ld/v1/entities"
ID = "urn:ngsi-ld:T:1"


@pytest.mark.parametrize("method", ["PATCH", "POST"])
def test_the_entity_and_the_attributes_a_write_changed_share_its_instant(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    body = {"id": ID, "type": "T", "v": {"type": "Property", "value": 1}}
    assert client.post(E, json=body).status_code == 201
    # the write begins a few milliseconds after its body was read
    monkeypatch.setattr(service, "now_iso", lambda: "2999-01-01T00:00:00.005Z")
    change = {"v": {"type": "Property", "value": 2}, "w": {"type": "Property", "value": 3}}
    response = client.request(method, f"{E}/{ID}/attrs", json=change)
    assert response.status_code == 204, response.text
    entity = client.get(f"{E}/{ID}", params={"options": "sysAttrs"}).json()
    assert entity["v"]["value"] == 2
    assert entity["v"]["modifiedAt"] == entity["modifiedAt"]
    assert entity["w"]["modifiedAt"] == entity["modifiedAt"]
