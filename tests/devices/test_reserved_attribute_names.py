"""A device attribute cannot take a name NGSI-LD or JSON-LD keeps for itself: provisioning
refuses it with a 400 naming the field, as it refuses `id` and `type`."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

FIRM = {"fiware-service": "firm1"}


@pytest.mark.parametrize(
    "name", ["@context", "@id", "createdAt", "modifiedAt", "observedAt", "deletedAt"]
)
def test_a_reserved_name_is_refused_in_a_group(client: TestClient, name: str) -> None:
    """NGSI-LD (ETSI GS CIM 009) 4.8: `createdAt`, `modifiedAt`, `deletedAt`, `observedAt` are
    members of entities and attributes, `@context` is JSON-LD's; a `@context` measure vanished
    with a 200, a `modifiedAt` one was shadowed by the system time."""
    group = {
        "apikey": "k-res",
        "resource": "/iot/json",
        "entity_type": "Res",
        "attributes": [{"object_id": "c", "name": name, "type": "Text"}],
    }
    answer = client.post("/iot/services", json={"services": [group]}, headers=FIRM)
    assert answer.status_code == 400, answer.text
    assert "services[0].attributes[0].name" in answer.json()["detail"]


def test_a_reserved_name_is_refused_for_a_static_attribute(client: TestClient) -> None:
    device = {
        "device_id": "r-1",
        "apikey": "k-res",
        "static_attributes": [{"name": "createdAt", "type": "Text", "value": "x"}],
    }
    answer = client.post("/iot/devices", json={"devices": [device]}, headers=FIRM)
    assert answer.status_code == 400, answer.text
