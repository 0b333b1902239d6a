"""What a distributed write answers when a context source did only part of it (its 207) or
did not hold the entity at all (clauses 4.3.6.1, 5.6.2.4), on every store backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.contextsource import ContextSource

E = "/ngsi-ld/v1/entities"
OPS = "/ngsi-ld/v1/entityOperations"
R = "/ngsi-ld/v1/csourceRegistrations"
REGISTRATION = "urn:ngsi-ld:ContextSourceRegistration:1"
BUS1 = "urn:ngsi-ld:Bus:1"
BUS3 = "urn:ngsi-ld:Bus:3"
EXISTS = {
    "type": "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists",
    "title": "Already exists",
    "status": 409,
    "detail": f"entity {BUS1} exists already",
}


@pytest.fixture
def source() -> Iterator[ContextSource]:
    cs = ContextSource()
    yield cs
    cs.close()


def register(client: TestClient, source: ContextSource, **extra: Any) -> None:
    body = {
        "id": REGISTRATION,
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Bus"}]}],
        "endpoint": source.endpoint,
        **extra,
    }
    created = client.post(R, json=body)
    assert created.status_code == 201, created.text


def bus(entity_id: str, **attrs: Any) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Bus",
        **{k: {"type": "Property", "value": v} for k, v in attrs.items()},
    }


def test_a_source_s_failed_batch_entities_are_the_client_s(
    client: TestClient, source: ContextSource
) -> None:
    """A source that created one entity of two (its 207) made the client's batch answer 201
    with both ids: the failure was dropped."""
    register(client, source, mode="redirect", operations=["createBatch", "updateBatch"])
    error = {"entityId": BUS1, "error": EXISTS}
    source.reply("POST", "/entityOperations/create", 207, {"success": [BUS3], "errors": [error]})
    created = client.post(f"{OPS}/create", json=[bus(BUS1), bus(BUS3)])
    assert created.status_code == 207, created.text
    assert created.json()["success"] == [BUS3]
    (failed,) = created.json()["errors"]
    assert failed["entityId"] == BUS1 and failed["registrationId"] == REGISTRATION
    assert failed["error"]["status"] == 409 and failed["error"]["type"] == EXISTS["type"]
    missing = {**EXISTS, "status": 404, "type": "https://uri.etsi.org/ngsi-ld/errors/x"}
    source.reply(
        "POST",
        "/entityOperations/update",
        207,
        {"success": [], "errors": [{"entityId": BUS3, "error": missing}]},
    )
    updated = client.post(f"{OPS}/update", json=[bus(BUS3, speed=1)])
    assert updated.status_code == 207
    assert updated.json()["success"] == []
    assert [e["entityId"] for e in updated.json()["errors"]] == [BUS3]


def test_entities_a_source_created_in_an_upsert_are_a_201(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, mode="redirect", operations=["upsertBatch"])
    source.reply("POST", "/entityOperations/upsert?options=update", 201, [BUS3])
    upsert = client.post(f"{OPS}/upsert", json=[bus(BUS1), bus(BUS3)], params={"options": "update"})
    assert upsert.status_code == 201, upsert.text
    assert upsert.json() == [BUS3]


def test_attributes_a_source_did_not_update_are_reported(
    client: TestClient, source: ContextSource
) -> None:
    """A source's 207 UpdateResult made the client's update answer 204."""
    register(client, source, mode="redirect", operations=["redirectionOps"])
    partial = {"updated": ["speed"], "notUpdated": [{"attributeName": "line", "reason": "nope"}]}
    source.reply("PATCH", f"/entities/{BUS1}/attrs/", 207, partial)
    source.reply("POST", f"/entities/{BUS1}/attrs/?options=noOverwrite", 207, partial)
    fragment = {"speed": {"type": "Property", "value": 3}, "line": {"type": "Property", "value": 4}}
    updated = client.patch(f"{E}/{BUS1}/attrs", json=fragment)
    assert updated.status_code == 207, updated.text
    assert updated.json() == partial  # the only part: the source's answer as it came
    appended = client.post(f"{E}/{BUS1}/attrs", json=fragment, params={"options": "noOverwrite"})
    assert appended.status_code == 207 and appended.json() == partial


def test_a_source_s_partial_update_beside_this_broker_s_is_a_failed_part(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, operations=["updateOps"])  # inclusive: here and there
    assert client.post(E, json=bus(BUS1, speed=1, line=2)).status_code == 201
    partial = {"updated": ["speed"], "notUpdated": [{"attributeName": "line", "reason": "nope"}]}
    source.reply("PATCH", f"/entities/{BUS1}/attrs/", 207, partial)
    fragment = {"speed": {"type": "Property", "value": 3}, "line": {"type": "Property", "value": 4}}
    updated = client.patch(f"{E}/{BUS1}/attrs", json=fragment)
    assert updated.status_code == 207, updated.text
    assert updated.json()["success"] == [BUS1]  # this broker's part went well
    (failed,) = updated.json()["errors"]
    assert failed["registrationId"] == REGISTRATION
    assert failed["error"]["notUpdated"] == partial["notUpdated"]
    assert "line: nope" in failed["error"]["detail"]
