"""Entity ordering (clause 4.23): orderBy on values, members, several terms, distance."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"


def ids(client: TestClient, **params: str) -> list[str]:
    response = client.get(E, params={"type": "Building", **params})
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


def buildings(client: TestClient) -> None:
    rows = [
        ("urn:b:1", "Zeta", 3, [129.0, 35.0]),
        ("urn:b:2", "Alpha", 10, [128.6, 35.87]),
        ("urn:b:3", "Mu", 3, [128.7, 35.9]),
    ]
    for entity_id, name, floors, point in rows:
        client.post(
            E,
            json={
                "id": entity_id,
                "type": "Building",
                "name": {"value": name, "observedAt": f"2026-11-2{floors % 10}T00:00:00Z"},
                "floors": floors,
                "address": {"value": {"city": name[::-1]}},
                "location": {"type": "Point", "coordinates": point},
            },
        )
    client.post(E, json={"id": "urn:b:4", "type": "Building", "floors": "many"})


def test_order_by_values_and_directions(client: TestClient) -> None:
    buildings(client)
    assert ids(client, orderBy="name") == ["urn:b:2", "urn:b:3", "urn:b:1", "urn:b:4"]
    assert ids(client, orderBy="name;desc") == ["urn:b:1", "urn:b:3", "urn:b:2", "urn:b:4"]
    # numbers before strings (clause 4.23.2); ties go to the next term, then the id
    assert ids(client, orderBy="floors,name") == ["urn:b:3", "urn:b:1", "urn:b:2", "urn:b:4"]
    assert ids(client, orderBy="floors;desc,name;desc") == [
        "urn:b:2",
        "urn:b:1",
        "urn:b:3",
        "urn:b:4",
    ]
    assert ids(client, orderBy="address[city]") == ["urn:b:2", "urn:b:1", "urn:b:3", "urn:b:4"]
    assert ids(client, orderBy="name.observedAt")[:3] == ["urn:b:2", "urn:b:1", "urn:b:3"]
    assert ids(client, orderBy="id;desc") == ["urn:b:4", "urn:b:3", "urn:b:2", "urn:b:1"]
    assert ids(client, orderBy="name", limit="2", offset="1") == ["urn:b:3", "urn:b:1"]


def test_order_by_distance(client: TestClient) -> None:
    buildings(client)
    near_daegu = ids(client, orderBy="location;dist-asc", orderFrom="[128.6,35.87]")
    assert near_daegu == ["urn:b:2", "urn:b:3", "urn:b:1", "urn:b:4"]
    far_first = ids(client, orderBy="location;dist-desc", orderFrom="[128.6,35.87]")
    assert far_first == ["urn:b:1", "urn:b:3", "urn:b:2", "urn:b:4"]


def test_bad_order_by(client: TestClient) -> None:
    buildings(client)
    for bad in ("name;sideways", "", "name,,floors", "location;dist-asc"):
        response = client.get(E, params={"type": "Building", "orderBy": bad})
        assert response.status_code == 400, bad
