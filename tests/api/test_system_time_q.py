"""`q` on an attribute's system times (clause 4.9 example 8's path form; clause 4.8 makes
`createdAt` and `modifiedAt` Temporal Properties of a Property as `observedAt` is), in GET
/entities and in subscriptions, on every store: they matched nothing (an outside test)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.receiver import Receiver

E = "/ngsi-ld/v1/entities"


def ids(client: TestClient, q: str) -> list[str]:
    response = client.get(E, params={"type": "T", "q": q})
    assert response.status_code == 200, response.text
    return sorted(e["id"].rsplit(":", 1)[1] for e in response.json())


def test_q_reads_an_attributes_created_and_modified_times(client: TestClient) -> None:
    for n in (1, 2):
        body: dict[str, Any] = {"id": f"urn:ngsi-ld:T:{n}", "type": "T"}
        body["v" if n == 1 else "w"] = {"type": "Property", "value": 1}
        assert client.post(E, json=body).status_code == 201
    shown = client.get(f"{E}/urn:ngsi-ld:T:1", params={"options": "sysAttrs"}).json()
    modified = shown["v"]["modifiedAt"]  # as Dalgu writes it: milliseconds
    assert ids(client, "v.modifiedAt>2025-01-01T00:00:00Z") == ["1"]
    assert ids(client, "v.modifiedAt<2025-01-01T00:00:00Z") == []
    assert ids(client, f"v.modifiedAt=={modified}") == ["1"]
    assert ids(client, f"v.modifiedAt>={modified};v.createdAt<={modified}") == ["1"]
    assert ids(client, f"v.modifiedAt>{modified}") == []
    assert ids(client, "v.createdAt==2025-01-01T00:00:00Z..2999-01-01T00:00:00Z") == ["1"]
    assert ids(client, "v.createdAt") == ["1"]
    assert ids(client, "v.modifiedAt|w.modifiedAt") == ["1", "2"]
    assert ids(client, "v.modifiedAt!=2025-01-01T00:00:00Z") == ["1"]
    assert ids(client, "v.modifiedAt==3") == []  # a time equals no number
    assert ids(client, "v.modifiedAt!=3") == ["1"]


def test_a_subscription_on_a_modified_time_is_notified(client: TestClient) -> None:
    receiver = Receiver()
    try:
        assert client.post(E, json={"id": "urn:ngsi-ld:T:9", "type": "T"}).status_code == 201
        body = {
            "type": "Subscription",
            "entities": [{"type": "T"}],
            "q": "v.modifiedAt>2026-01-01T00:00:00Z",
            "notification": {"endpoint": {"uri": receiver.url}},
        }
        assert client.post("/ngsi-ld/v1/subscriptions", json=body).status_code == 201
        patch = {"v": {"type": "Property", "value": 3}}
        assert client.post(f"{E}/urn:ngsi-ld:T:9/attrs", json=patch).status_code == 204
        _, note = receiver.next(timeout=10)
        assert note["data"][0]["id"] == "urn:ngsi-ld:T:9"
        assert note["data"][0]["v"]["value"] == 3
    finally:
        receiver.close()
