"""Batch upserts that send entities again: the stores rewrite only what changed, and every
query still sees the entities as they now are (both stores)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.api.test_entities import vehicle

UPSERT = "/ngsi-ld/v1/entityOperations/upsert"
E = "/ngsi-ld/v1/entities"


def ids(client: TestClient, **params: str) -> list[str]:
    response = client.get(E, params={"type": "Vehicle", **params})
    assert response.status_code == 200, response.text
    return sorted(e["id"] for e in response.json())


def test_an_update_upsert_sending_every_attribute_again_leaves_queries_right(
    client: TestClient,
) -> None:
    assert client.post(UPSERT, json=[vehicle(n) for n in (1, 2, 3)]).status_code == 201
    again: list[dict[str, Any]] = [vehicle(1, speed=60), vehicle(2, lon=128.7), vehicle(3)]
    for doc in again:  # a fleet feed: every attribute again, the measures with a new time
        doc["speed"]["observedAt"] = "2026-11-25T04:00:10Z"
    response = client.post(f"{UPSERT}?options=update", json=again)
    assert response.status_code == 204, response.text

    assert ids(client, q="speed==60") == ["urn:ngsi-ld:Vehicle:1"]
    assert ids(client, q="speed==50") == ["urn:ngsi-ld:Vehicle:2", "urn:ngsi-ld:Vehicle:3"]
    assert ids(client, q='address[district]=="d1"') == ["urn:ngsi-ld:Vehicle:1"]
    assert ids(client, q='owner=="urn:ngsi-ld:Person:1"') == [
        "urn:ngsi-ld:Vehicle:1",
        "urn:ngsi-ld:Vehicle:3",
    ]
    assert ids(client, q="speed.observedAt>=2026-11-25T04:00:05Z") == [
        "urn:ngsi-ld:Vehicle:1",
        "urn:ngsi-ld:Vehicle:2",
        "urn:ngsi-ld:Vehicle:3",
    ]
    near = {"georel": "near;maxDistance==100", "geometry": "Point"}
    assert ids(client, coordinates="[128.7,35.87]", **near) == ["urn:ngsi-ld:Vehicle:2"]
    assert ids(client, coordinates="[128.6,35.87]", **near) == [
        "urn:ngsi-ld:Vehicle:1",
        "urn:ngsi-ld:Vehicle:3",
    ]
    speed = client.get(f"{E}/urn:ngsi-ld:Vehicle:1").json()["speed"]
    assert speed["value"] == 60


def test_an_attribute_sent_again_unchanged_is_still_recorded_in_the_history(
    client: TestClient,
) -> None:
    client.post(UPSERT, json=[vehicle(1)])
    again = vehicle(1)
    again["speed"]["observedAt"] = "2026-11-25T04:00:10Z"
    assert client.post(f"{UPSERT}?options=update", json=[again]).status_code == 204
    response = client.get(
        "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Vehicle:1", params={"attrs": "speed"}
    )
    assert response.status_code == 200, response.text
    observed = sorted(i["observedAt"] for i in response.json()["speed"])
    assert observed == ["2026-11-25T04:00:00Z", "2026-11-25T04:00:10Z"]
