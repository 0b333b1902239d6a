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


WRITES = ["updateOps", "deleteEntity", "appendAttrs", "mergeEntity", "deleteAttrs"]


def test_a_write_to_an_entity_held_only_at_a_source_is_no_local_404(
    client: TestClient, source: ContextSource
) -> None:
    """Clause 5.6.2.4: an entity not held here is no error when a matching registration
    applies; every such write answered 207 with this broker's ResourceNotFound."""
    register(client, source, operations=WRITES)  # inclusive, every attribute
    for method, path in [
        ("PATCH", f"/entities/{BUS1}/attrs/"),
        ("PATCH", f"/entities/{BUS1}/attrs/speed"),
        ("POST", f"/entities/{BUS1}/attrs/"),
        ("PATCH", f"/entities/{BUS1}"),
        ("DELETE", f"/entities/{BUS1}/attrs/speed"),
        ("DELETE", f"/entities/{BUS1}"),
    ]:
        source.reply(method, path, 204)
    speed = {"speed": {"type": "Property", "value": 81}}
    assert client.patch(f"{E}/{BUS1}/attrs", json=speed).status_code == 204
    assert client.patch(f"{E}/{BUS1}/attrs/speed", json={"value": 82}).status_code == 204
    assert client.post(f"{E}/{BUS1}/attrs", json=speed).status_code == 204
    assert client.patch(f"{E}/{BUS1}", json=speed).status_code == 204
    assert client.delete(f"{E}/{BUS1}/attrs/speed").status_code == 204
    # deleting the entity: this broker's 404 is a failed part, as the ETSI suite's
    # D002_02_02_inc has it (clause 5.6.6)
    deleted = client.delete(f"{E}/{BUS1}")
    assert deleted.status_code == 207, deleted.text
    (error,) = deleted.json()["errors"]
    assert error["error"]["status"] == 404 and "registrationId" not in error
    assert len(source.seen) == 6
    assert client.get(f"{E}/{BUS1}", params={"local": "true"}).status_code == 404


def test_a_write_to_an_entity_held_nowhere_is_a_404(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, operations=WRITES)
    gone = {"type": "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound", "status": 404}
    source.reply("PATCH", f"/entities/{BUS1}/attrs/", 404, gone)
    missing = client.patch(f"{E}/{BUS1}/attrs", json={"speed": {"type": "Property", "value": 1}})
    assert missing.status_code == 404, missing.text
    assert missing.json()["type"].endswith("ResourceNotFound")


def test_what_went_nowhere_is_still_an_error(client: TestClient, source: ContextSource) -> None:
    """A source holding only `speed`: the `line` of an entity held there alone went nowhere."""
    information = [{"entities": [{"type": "Bus"}], "propertyNames": ["speed"]}]
    register(client, source, operations=WRITES, information=information)
    source.reply("PATCH", f"/entities/{BUS1}/attrs/", 204)
    both = {"speed": {"type": "Property", "value": 1}, "line": {"type": "Property", "value": 2}}
    answered = client.patch(f"{E}/{BUS1}/attrs", json=both)
    assert answered.status_code == 207, answered.text
    (error,) = answered.json()["errors"]
    assert "registrationId" not in error and error["error"]["status"] == 404


def test_a_source_that_never_held_a_deleted_entity_is_a_failed_part(
    client: TestClient, source: ContextSource
) -> None:
    """An entity created here alone (its attributes not registered) and deleted: the inclusive
    source's 404 is a failed part of a 207, as the ETSI suite's D002_02_01_inc has it."""
    information = [{"entities": [{"type": "Bus"}], "propertyNames": ["speed"]}]
    register(client, source, operations=WRITES, information=information)
    assert client.post(E, json=bus(BUS1, line=410)).status_code == 201
    gone = {"type": "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound", "status": 404}
    source.reply("DELETE", f"/entities/{BUS1}", 404, gone)
    deleted = client.delete(f"{E}/{BUS1}")
    assert deleted.status_code == 207, deleted.text
    (error,) = deleted.json()["errors"]
    assert error["error"]["status"] == 404 and "registrationId" in error
    assert client.get(f"{E}/{BUS1}", params={"local": "true"}).status_code == 404


def test_a_batch_on_an_entity_held_only_at_a_source_is_no_local_404(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, operations=["updateBatch", "deleteBatch"])
    source.reply("POST", "/entityOperations/update", 204)
    updated = client.post(f"{OPS}/update", json=[bus(BUS1, speed=3)])
    assert updated.status_code == 204, updated.text
    assert client.post(E, json=bus(BUS3, line=1)).status_code == 201
    gone = {"type": "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound", "status": 404}
    errors = [{"entityId": BUS3, "error": gone}]
    source.reply("POST", "/entityOperations/delete", 207, {"success": [BUS1], "errors": errors})
    deleted = client.post(f"{OPS}/delete", json=[BUS1, BUS3])
    assert deleted.status_code == 204, deleted.text
    source.reply("POST", "/entityOperations/update", 207, {"success": [], "errors": errors})
    nowhere = client.post(f"{OPS}/update", json=[bus(BUS3, speed=3)])
    assert nowhere.status_code == 207
    assert [e["entityId"] for e in nowhere.json()["errors"]] == [BUS3, BUS3]


def test_a_forwarded_write_keeps_the_client_s_parameters(
    client: TestClient, source: ContextSource
) -> None:
    """A merge went to the source without `observedAt`, `lang` and `options=keyValues`: its
    attribute kept its old observedAt, and a source that needs the flag misread the body."""
    register(client, source, mode="redirect", operations=["redirectionOps"])
    merge = f"/entities/{BUS1}?observedAt=2026-12-07T12:00:00Z&lang=ko&options=keyValues"
    source.reply("PATCH", merge, 204)
    merged = client.patch(
        f"{E}/{BUS1}",
        json={"speed": 5},
        params={"observedAt": "2026-12-07T12:00:00Z", "lang": "ko", "options": "keyValues"},
    )
    assert merged.status_code == 204, merged.text
    (seen,) = source.requests("PATCH")
    assert seen.path == "/ngsi-ld/v1" + merge and seen.body == {"speed": 5}
    append = f"/entities/{BUS1}/attrs/?options=keyValues,noOverwrite"
    source.reply("POST", append, 204)
    appended = client.post(
        f"{E}/{BUS1}/attrs", json={"line": 4}, params={"options": "keyValues,noOverwrite"}
    )
    assert appended.status_code == 204, appended.text
    assert source.requests("POST")[0].path == "/ngsi-ld/v1" + append
    local = client.post(f"{E}/{BUS1}/attrs", json={"line": 4}, params={"local": "true"})
    assert local.status_code == 404  # `local` stays here: nothing was sent
    assert len(source.requests("POST")) == 1
