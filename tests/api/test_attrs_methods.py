"""A method the attributes' resources do not have is a 405 naming theirs (clause 6.3.2), not a
404 of an entity whose id would end in `/attrs`: GET of `/entities/{id}/attrs` (clause 6.6.3
defines POST and PATCH), GET of `/entities/{id}/attrs/{attrId}` (6.7.3: PATCH, DELETE, PUT),
GET or DELETE of `/temporal/entities/{id}/attrs` (6.20: POST)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

V1 = "/ngsi-ld/v1"
CAR = "urn:ngsi-ld:Car:c1"

CASES = [
    ("GET", f"{V1}/entities/{CAR}/attrs", "OPTIONS, PATCH, POST"),
    ("HEAD", f"{V1}/entities/{CAR}/attrs", "OPTIONS, PATCH, POST"),
    ("GET", f"{V1}/entities/{CAR}/attrs/speed", "DELETE, OPTIONS, PATCH, PUT"),
    ("GET", f"{V1}/temporal/entities/{CAR}/attrs", "OPTIONS, POST"),
    ("DELETE", f"{V1}/temporal/entities/{CAR}/attrs", "OPTIONS, POST"),
    ("GET", f"{V1}/temporal/entities/{CAR}/attrs/speed", "DELETE, OPTIONS"),
]


@pytest.mark.parametrize(("method", "path", "allow"), CASES)
def test_a_method_the_resource_lacks_is_405(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    body = {"id": CAR, "type": "Car", "speed": {"type": "Property", "value": 3}}
    assert client.post(f"{V1}/entities", json=body).status_code == 201
    response = client.request(method, path)
    assert response.status_code == 405, response.text
    assert set(response.headers["Allow"].split(", ")) | {"OPTIONS"} == set(allow.split(", "))
    options = client.request("OPTIONS", path)
    assert set(options.headers["Allow"].split(", ")) == set(allow.split(", "))


def test_an_id_holding_attrs_is_read_with_its_slash_encoded(client: TestClient) -> None:
    odd = "urn:ngsi-ld:Path:a/attrs"
    assert client.post(f"{V1}/entities", json={"id": odd, "type": "Path"}).status_code == 201
    response = client.get(f"{V1}/entities/urn:ngsi-ld:Path:a%2Fattrs")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == odd


LAST = {"attrs": "speed", "lastN": "5", "timeproperty": "createdAt"}


def test_every_patch_takes_merge_patch_json(client: TestClient) -> None:
    """Clause 6.3.4: "For HTTP PATCH requests "application/merge-patch+json" is allowed as
    Content-Type ... equivalent to "application/json"": Update Attributes and Modify Attribute
    Instance answered 415."""
    merge = {"Content-Type": "application/merge-patch+json"}
    body = {
        "id": CAR,
        "type": "Car",
        "speed": {"type": "Property", "value": 3, "observedAt": "2026-01-01T00:00:00Z"},
    }
    assert client.post(f"{V1}/entities", json=body).status_code == 201
    update = b'{"speed": {"type": "Property", "value": 21}}'
    response = client.patch(f"{V1}/entities/{CAR}/attrs", content=update, headers=merge)
    assert response.status_code == 204, response.text
    assert client.get(f"{V1}/entities/{CAR}").json()["speed"]["value"] == 21
    history = client.get(f"{V1}/temporal/entities/{CAR}", params=LAST)
    instance = next(i for i in history.json()["speed"] if i["value"] == 3)["instanceId"]
    path = f"{V1}/temporal/entities/{CAR}/attrs/speed/{instance}"
    response = client.patch(path, content=b'{"value": 99}', headers=merge)
    assert response.status_code == 204, response.text
    history = client.get(f"{V1}/temporal/entities/{CAR}", params=LAST)
    assert sorted(i["value"] for i in history.json()["speed"]) == [21, 99]
    for url in (f"{V1}/entities/{CAR}/attrs", path):
        patch = client.request("OPTIONS", url).headers["Accept-Patch"]
        assert "application/merge-patch+json" in patch
