"""Distributed operations (clause 4.3.6): requests forwarded to a real context source on
loopback, and its answers merged with the broker's own, on every store backend."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.federation import client as client_module
from tests.contextsource import ContextSource

E = "/ngsi-ld/v1/entities"
R = "/ngsi-ld/v1/csourceRegistrations"
V1 = "urn:ngsi-ld:Vehicle:V1"
V2 = "urn:ngsi-ld:Vehicle:V2"


@pytest.fixture
def source() -> Iterator[ContextSource]:
    cs = ContextSource()
    yield cs
    cs.close()


def register(client: TestClient, source: ContextSource, n: int = 1, **extra: Any) -> None:
    info = extra.pop("information", [{"entities": [{"type": "Vehicle"}]}])
    body = {
        "id": f"urn:ngsi-ld:ContextSourceRegistration:{n}",
        "type": "ContextSourceRegistration",
        "information": info,
        "endpoint": source.endpoint,
        **extra,
    }
    created = client.post(R, json=body)
    assert created.status_code == 201, created.text


def register_speed_of_v1(client: TestClient, source: ContextSource, operation: str) -> None:
    """An exclusive registration of V1's speed at `source`, offering `operation`."""
    register(
        client,
        source,
        mode="exclusive",
        operations=[operation],
        information=[{"entities": [{"id": V1, "type": "Vehicle"}], "propertyNames": ["speed"]}],
    )


def vehicle(entity_id: str, **attrs: Any) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Vehicle",
        **{k: {"type": "Property", "value": v} for k, v in attrs.items()},
    }


def test_no_registration_no_request(client: TestClient, source: ContextSource) -> None:
    assert client.post(E, json=vehicle(V1, speed=1)).status_code == 201
    assert client.get(f"{E}/{V1}").status_code == 200
    assert source.seen == []


def test_retrieve_merges_a_source_entity_and_sends_via(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source)
    assert client.post(E, json=vehicle(V1, speed=50)).status_code == 201
    source.reply("GET", f"/entities/{V1}", 200, vehicle(V1, brandName="Kia"))
    got = client.get(f"{E}/{V1}", params={"options": "keyValues"})
    assert got.status_code == 200
    assert got.json() == {"id": V1, "type": "Vehicle", "speed": 50, "brandName": "Kia"}
    (seen,) = source.requests("GET")
    assert seen.path == f"/ngsi-ld/v1/entities/{V1}"
    assert seen.headers["via"].startswith("1.1 ")
    # local=true asks no context source (clause 6.3.18)
    local = client.get(f"{E}/{V1}", params={"local": "true", "options": "keyValues"}).json()
    assert local == {"id": V1, "type": "Vehicle", "speed": 50}
    assert len(source.requests("GET")) == 1


def test_retrieve_of_an_entity_only_the_source_has(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source)
    assert client.get(f"{E}/{V2}").status_code == 404  # the source answers 404 too
    source.reply("GET", f"/entities/{V2}", 200, vehicle(V2, speed=7))
    got = client.get(f"{E}/{V2}", params={"options": "keyValues"})
    assert got.status_code == 200 and got.json()["speed"] == 7


def test_query_merges_by_id_and_forwards_the_registered_restrictions(
    client: TestClient, source: ContextSource
) -> None:
    register_speed_of_v1(client, source, "redirectionOps")
    assert client.post(E, json=vehicle(V1, brandName="Kia")).status_code == 201
    source.reply("GET", f"/entities?type=Vehicle&id={V1}&attrs=speed", 200, [vehicle(V1, speed=33)])
    got = client.get(E, params={"type": "Vehicle", "options": "keyValues"})
    assert got.status_code == 200
    assert got.json() == [{"id": V1, "type": "Vehicle", "brandName": "Kia", "speed": 33}]


def test_a_query_for_attributes_a_registration_lacks_is_not_forwarded(
    client: TestClient, source: ContextSource
) -> None:
    """Clause 5.12: a registration whose attributes include none of the query's `attrs`
    does not match it; the query is not sent there (it was, with the registration's
    attributes in place of the client's, and answered with an entity of no attributes)."""
    register_speed_of_v1(client, source, "redirectionOps")
    source.reply("GET", f"/entities?type=Vehicle&attrs=speed&id={V1}", 200, [vehicle(V1, speed=3)])
    got = client.get(E, params={"type": "Vehicle", "attrs": "brandName"})
    assert got.status_code == 200
    assert got.json() == []
    assert source.requests("GET") == []
    both = client.get(E, params={"type": "Vehicle", "attrs": "brandName,speed"})
    assert [e["id"] for e in both.json()] == [V1]
    (seen,) = source.requests("GET")
    assert seen.path == f"/ngsi-ld/v1/entities?type=Vehicle&attrs=speed&id={V1}"


def test_create_splits_an_exclusive_attribute_off(
    client: TestClient, source: ContextSource
) -> None:
    register_speed_of_v1(client, source, "redirectionOps")
    source.reply("POST", "/entities", 201)
    assert client.post(E, json=vehicle(V1, speed=9, brandName="Kia")).status_code == 201
    (seen,) = source.requests("POST")
    assert seen.body == vehicle(V1, speed=9)  # only the registered attribute goes there
    local = client.get(f"{E}/{V1}", params={"local": "true", "options": "keyValues"}).json()
    assert local == {"id": V1, "type": "Vehicle", "brandName": "Kia"}


def test_a_failed_part_is_a_207_naming_the_registration(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, operations=["redirectionOps"])
    assert client.post(E, json=vehicle(V1, speed=1), params={"local": "true"}).status_code == 201
    source.reply("POST", "/entities", 201)
    again = client.post(E, json=vehicle(V1, speed=2))  # here: AlreadyExists; there: created
    assert again.status_code == 207
    body = again.json()
    assert body["success"] == [V1]
    assert [e["error"]["status"] for e in body["errors"]] == [409]
    assert "registrationId" not in body["errors"][0]
    # (a source's 404 is no failure when the entity was deleted here: it never held it)
    source.reply("DELETE", f"/entities/{V1}", 500, {"type": "x", "title": "down", "status": 500})
    deleted = client.delete(f"{E}/{V1}")
    assert deleted.status_code == 207
    (error,) = deleted.json()["errors"]
    assert error["registrationId"] == "urn:ngsi-ld:ContextSourceRegistration:1"
    assert error["error"]["status"] == 500
    assert client.get(f"{E}/{V1}", params={"local": "true"}).status_code == 404


def test_redirect_takes_the_whole_entity(client: TestClient, source: ContextSource) -> None:
    register(client, source, mode="redirect", operations=["redirectionOps"])
    source.reply("POST", "/entities", 201)
    assert client.post(E, json=vehicle(V2, speed=3)).status_code == 201
    assert client.get(f"{E}/{V2}", params={"local": "true"}).status_code == 404
    source.reply("POST", "/entities", 409, {"type": "x", "title": "exists", "status": 409})
    refused = client.post(E, json=vehicle(V2, speed=3))
    assert refused.status_code == 409  # the only part's error, as the source said it


def test_batch_goes_to_the_source_as_one_batch(client: TestClient, source: ContextSource) -> None:
    register(client, source, operations=["upsertBatch", "mergeBatch", "deleteBatch"])
    source.reply("POST", "/entityOperations/upsert", 204)
    source.reply("POST", "/entityOperations/merge", 204)
    source.reply("POST", "/entityOperations/delete", 204)
    up = client.post(f"{E[:-9]}/entityOperations/upsert", json=[vehicle(V1, speed=1), vehicle(V2)])
    assert up.status_code == 201 and sorted(up.json()) == [V1, V2]  # created here too
    (seen,) = source.requests("POST")
    assert [e["id"] for e in seen.body] == [V1, V2]
    merge = client.post(f"{E[:-9]}/entityOperations/merge", json=[{"id": V1, "speed": 4}])
    assert merge.status_code == 204
    assert source.requests("POST")[-1].body == [{"id": V1, "speed": 4}]
    gone = client.post(f"{E[:-9]}/entityOperations/delete", json=[V1, V2])
    assert gone.status_code == 204
    assert source.requests("POST")[-1].body == [V1, V2]


def test_an_unreachable_source_is_a_clear_error(client: TestClient) -> None:
    client.post(
        R,
        json={
            "id": "urn:ngsi-ld:ContextSourceRegistration:dead",
            "type": "ContextSourceRegistration",
            "information": [{"entities": [{"type": "Vehicle"}]}],
            "endpoint": "http://127.0.0.1:9",
            "mode": "redirect",
            "operations": ["redirectionOps"],
        },
    )
    failed = client.post(E, json=vehicle(V1, speed=1))
    assert failed.status_code == 502
    assert failed.json()["detail"].endswith("is unreachable")


def test_a_request_that_passed_here_is_a_loop(client: TestClient, source: ContextSource) -> None:
    register(client, source, operations=["redirectionOps"])
    source.reply("POST", "/entities", 201)
    assert client.post(E, json=vehicle(V1, speed=1)).status_code == 201
    via = source.requests("POST")[0].headers["via"]
    looped = client.delete(f"{E}/{V1}", headers={"Via": via})
    assert looped.status_code == 508
    assert source.requests("DELETE") == []


def test_only_offered_operations_are_forwarded(client: TestClient, source: ContextSource) -> None:
    register(client, source)  # federationOps: reads only
    source.reply("POST", "/entities", 201)
    assert client.post(E, json=vehicle(V1, speed=1)).status_code == 201
    assert source.requests("POST") == []


def test_post_query_is_forwarded_with_the_registered_attributes(
    client: TestClient, source: ContextSource
) -> None:
    register_speed_of_v1(client, source, "queryBatch")
    assert client.post(E, json=vehicle(V1, brandName="Kia")).status_code == 201
    source.reply("POST", "/entityOperations/query", 200, [vehicle(V1, speed=12)])
    query = {"type": "Query", "entities": [{"type": "Vehicle"}]}
    got = client.post(
        "/ngsi-ld/v1/entityOperations/query", json=query, params={"options": "keyValues"}
    )
    assert got.status_code == 200
    assert got.json() == [{"id": V1, "type": "Vehicle", "brandName": "Kia", "speed": 12}]
    (seen,) = source.requests("POST")
    assert seen.body == {**query, "attrs": ["speed"]}


def test_creating_again_what_went_whole_to_a_source_is_not_a_local_conflict(
    client: TestClient, source: ContextSource
) -> None:
    register_speed_of_v1(client, source, "redirectionOps")
    assert client.post(E, json=vehicle(V1, brandName="Kia")).status_code == 201
    source.reply("POST", "/entities", 201)
    # every attribute goes to the source; the entity here has nothing to add
    assert client.post(E, json=vehicle(V1, speed=5)).status_code == 201
    # an attribute that stays here still makes it an AlreadyExists part
    again = client.post(E, json=vehicle(V1, speed=5, brandName="Kia"))
    assert again.status_code == 207
    assert [e["error"]["status"] for e in again.json()["errors"]] == [409]


def test_the_default_upsert_mode_is_not_forwarded(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, mode="redirect", operations=["upsertBatch"])
    source.reply("POST", "/entityOperations/upsert", 204)
    source.reply("POST", "/entityOperations/upsert?options=update", 204)
    upsert = "/ngsi-ld/v1/entityOperations/upsert"
    assert client.post(upsert, json=[vehicle(V1)], params={"options": "replace"}).status_code == 204
    assert client.post(upsert, json=[vehicle(V1)], params={"options": "update"}).status_code == 204
    paths = [s.path for s in source.requests("POST")]
    assert paths == [
        f"/ngsi-ld/v1{p}"
        for p in ("/entityOperations/upsert", "/entityOperations/upsert?options=update")
    ]


def test_the_plain_retrieval_shortcut_steps_aside_for_registrations(
    client: TestClient, source: ContextSource
) -> None:
    assert client.post(E, json=vehicle(V1, speed=50)).status_code == 201
    assert "brandName" not in client.get(f"{E}/{V1}").json()  # no registration: the shortcut
    register(client, source)
    source.reply("GET", f"/entities/{V1}", 200, vehicle(V1, brandName="Kia"))
    plain = client.get(f"{E}/{V1}")  # no parameters, no Link: the shortcut's form
    assert plain.status_code == 200
    assert plain.json()["brandName"] == {"type": "Property", "value": "Kia"}
    other = client.get(f"{E}/{V1}", headers={"NGSILD-Tenant": "elsewhere"})
    assert other.status_code == 404  # another tenant has no registration and no entity


def test_a_registration_shows_what_its_source_was_sent(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, operations=["redirectionOps"])
    url = f"{R}/urn:ngsi-ld:ContextSourceRegistration:1"
    fresh = client.get(url).json()
    assert "timesSent" not in fresh and "status" not in fresh
    source.reply("POST", "/entities", 201)
    assert client.post(E, json=vehicle(V1, speed=1)).status_code == 201
    shown = client.get(url).json()
    assert shown["timesSent"] == 1 and shown["timesFailed"] == 0
    assert shown["status"] == "ok" and "lastSuccess" in shown and "lastFailure" not in shown
    client.delete(f"{E}/{V1}")  # the source answers 404: a failure
    shown = client.get(url).json()
    assert (shown["timesSent"], shown["timesFailed"], shown["status"]) == (2, 1, "failed")
    (listed,) = client.get(R, params={"type": "Vehicle"}).json()
    assert listed["timesSent"] == 2
    # the counts are not the client's to set, and a PATCH does not store them
    assert client.patch(url, json={"timesSent": 99, "endpoint": source.endpoint}).status_code == 204
    assert client.get(url).json()["timesSent"] == 2
    assert client.delete(url).status_code == 204
    register(client, source, operations=["redirectionOps"])  # the same id again: counts anew
    assert "timesSent" not in client.get(url).json()


def test_one_attribute_goes_where_it_is_held(client: TestClient, source: ContextSource) -> None:
    register_speed_of_v1(client, source, "redirectionOps")
    assert (
        client.post(E, json=vehicle(V1, brandName="Kia"), params={"local": "true"}).status_code
        == 201
    )
    for method in ("PATCH", "PUT", "DELETE"):
        source.reply(method, f"/entities/{V1}/attrs/speed", 204)
    speed = f"{E}/{V1}/attrs/speed"
    assert client.patch(speed, json={"value": 80}).status_code == 204
    assert client.put(speed, json={"type": "Property", "value": 81}).status_code == 204
    assert client.delete(speed).status_code == 204
    assert [(s.method, s.body) for s in source.seen] == [
        ("PATCH", {"value": 80}),
        ("PUT", {"type": "Property", "value": 81}),
        ("DELETE", None),
    ]
    # an attribute no registration holds is this broker's alone
    brand = f"{E}/{V1}/attrs/brandName"
    assert client.patch(brand, json={"value": "Hyundai"}).status_code == 204
    assert len(source.seen) == 3
    local = client.get(f"{E}/{V1}", params={"local": "true", "options": "keyValues"}).json()
    assert local == {"id": V1, "type": "Vehicle", "brandName": "Hyundai"}


def test_management_local_only_and_cooldown(client: TestClient, source: ContextSource) -> None:
    register(client, source, management={"localOnly": True, "cooldown": 60_000})
    assert client.post(E, json=vehicle(V1, speed=1)).status_code == 201
    down = {"title": "down", "status": 500}
    source.reply("GET", f"/entities/{V1}?attrs=speed&local=true", 500, down)
    assert client.get(f"{E}/{V1}", params={"attrs": "speed"}).status_code == 200  # held here
    (first,) = source.requests("GET")
    assert first.path.endswith("local=true")  # localOnly: the source's own data only
    # the source failed: within its cooldown it is not asked again
    assert client.get(f"{E}/{V1}", params={"attrs": "speed"}).status_code == 200
    assert len(source.requests("GET")) == 1
    shown = client.get(f"{R}/urn:ngsi-ld:ContextSourceRegistration:1").json()
    assert (shown["timesSent"], shown["timesFailed"], shown["status"]) == (2, 2, "failed")


def test_types_and_attributes_include_the_sources(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source)  # federationOps: the catalogue reads are in it
    assert client.post(E, json=vehicle(V1, speed=1)).status_code == 201
    source.reply("GET", "/types", 200, {"type": "EntityTypeList", "typeList": ["Bus"]})
    assert client.get("/ngsi-ld/v1/types").json()["typeList"] == ["Bus", "Vehicle"]
    source.reply(
        "GET",
        "/types?details=true",
        200,
        [{"id": "x", "type": "EntityType", "typeName": "Vehicle", "attributeNames": ["brand"]}],
    )
    (detailed,) = client.get("/ngsi-ld/v1/types", params={"details": "true"}).json()
    assert detailed["attributeNames"] == ["brand", "speed"]
    source.reply(
        "GET",
        "/types/Vehicle",
        200,
        {
            "id": "x",
            "type": "EntityTypeInfo",
            "typeName": "Vehicle",
            "entityCount": 4,
            "attributeDetails": [
                {
                    "id": "y",
                    "type": "Attribute",
                    "attributeName": "speed",
                    "attributeTypes": ["Property"],
                }
            ],
        },
    )
    info = client.get("/ngsi-ld/v1/types/Vehicle").json()
    assert info["entityCount"] == 5
    assert [a["attributeName"] for a in info["attributeDetails"]] == ["speed"]
    source.reply("GET", "/attributes", 200, {"type": "AttributeList", "attributeList": ["brand"]})
    listed = client.get("/ngsi-ld/v1/attributes").json()["attributeList"]
    assert listed == ["brand", "speed"]
    source.reply(
        "GET",
        "/attributes/speed",
        200,
        {
            "id": "y",
            "type": "Attribute",
            "attributeName": "speed",
            "attributeCount": 3,
            "attributeTypes": ["Property"],
            "typeNames": ["Bus"],
        },
    )
    speed = client.get("/ngsi-ld/v1/attributes/speed").json()
    assert speed["attributeCount"] == 4 and speed["typeNames"] == ["Bus", "Vehicle"]
    # a source that does not answer leaves this broker's own catalogue
    source.replies.clear()
    assert client.get("/ngsi-ld/v1/types").json()["typeList"] == ["Vehicle"]


def test_a_slow_or_oversized_source_is_cut_off(
    client: TestClient, source: ContextSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(client, source, management={"timeout": 300})  # milliseconds
    assert client.post(E, json=vehicle(V1, speed=1)).status_code == 201
    source.reply("GET", f"/entities/{V1}", 200, vehicle(V1, brandName="late"), delay=2.0)
    began = time.monotonic()
    got = client.get(f"{E}/{V1}", params={"options": "keyValues"})
    assert time.monotonic() - began < 1.5  # the source's 300 ms, not its 2 s
    assert got.status_code == 200 and "brandName" not in got.json()
    monkeypatch.setattr(client_module, "MAX_REPLY_BYTES", 1000)
    source.reply("GET", f"/entities/{V1}", 200, vehicle(V1, brandName="x" * 5000))
    got = client.get(f"{E}/{V1}", params={"options": "keyValues"})
    assert got.status_code == 200 and "brandName" not in got.json()
    shown = client.get(f"{R}/urn:ngsi-ld:ContextSourceRegistration:1").json()
    assert (shown["timesSent"], shown["timesFailed"]) == (2, 2)


def test_source_identity(client: TestClient) -> None:
    got = client.get("/ngsi-ld/v1/info/sourceIdentity")
    assert got.status_code == 200
    identity = got.json()
    assert identity["type"] == "ContextSourceIdentity"
    assert identity["id"].startswith("urn:ngsi-ld:ContextSource:")
    assert identity["contextSourceAlias"] == "127.0.0.1:1026"  # what its Via hops say
    assert identity["contextSourceUptime"].startswith("P")
    assert identity["contextSourceTimeAt"].endswith("Z")
    assert identity["contextSourceExtras"]["product"] == "Dalgu"
    again = client.get("/ngsi-ld/v1/info/sourceIdentity").json()
    assert again["id"] == identity["id"]


def test_attributes_not_updated_here_are_a_failed_part(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, operations=["updateOps"])  # inclusive: here and there
    assert client.post(E, json=vehicle(V1, speed=1)).status_code == 201
    source.reply("PATCH", f"/entities/{V1}/attrs/", 204)
    null = "urn:ngsi-ld:null"  # deletes an instance: here there is no gear to delete
    fragment = {
        "speed": {"type": "Property", "value": 2},
        "gear": {"type": "Property", "value": null},
    }
    answered = client.patch(f"{E}/{V1}/attrs", json=fragment)
    assert answered.status_code == 207  # gear was not updated here
    (error,) = answered.json()["errors"]
    assert "registrationId" not in error and "gear" in error["error"]["detail"]
    assert source.requests("PATCH")[0].body == fragment


def test_an_endpoint_that_cannot_be_used_is_a_502(client: TestClient) -> None:
    body = {
        "id": "urn:ngsi-ld:ContextSourceRegistration:odd",
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Vehicle"}]}],
        "endpoint": "http://127.0.0.1:99999",
        "mode": "redirect",
        "operations": ["redirectionOps"],
    }
    assert client.post(R, json=body).status_code == 201  # a URI with an http scheme
    assert client.post(E, json=vehicle(V1, speed=1)).status_code == 502
    # not a URI at all (an unclosed IPv6 address; an outside test found it a 500): refused
    odd = client.post(R, json={**body, "endpoint": "http://[::1"})
    assert odd.status_code == 400, odd.text


def test_purge_goes_to_the_sources_too(client: TestClient, source: ContextSource) -> None:
    register(client, source, operations=["redirectionOps"])
    assert client.post(E, json=vehicle(V1), params={"local": "true"}).status_code == 201
    source.reply("DELETE", "/entities?type=Vehicle", 204)
    assert client.delete(E, params={"type": "Vehicle"}).status_code == 204
    assert source.requests("DELETE")[0].path == "/ngsi-ld/v1/entities?type=Vehicle"
    assert client.get(f"{E}/{V1}", params={"local": "true"}).status_code == 404
    source.reply("DELETE", "/entities?type=Vehicle", 500, {"title": "down", "status": 500})
    failed = client.delete(E, params={"type": "Vehicle"})
    assert failed.status_code == 207
    assert failed.json()["success"] == []
    (error,) = failed.json()["errors"]
    assert error["entityId"] is None and error["error"]["status"] == 500


def test_an_entity_whose_only_source_failed_is_that_failure_not_a_404(client: TestClient) -> None:
    """A redirect registration keeps the entity away from this broker: with its source
    unreachable, a retrieval answered 404 "does not exist here or at a context source" (the
    FIWARE Context-Providers tutorial's setup met it); the source's failure is the answer."""
    client.post(
        R,
        json={
            "id": "urn:ngsi-ld:ContextSourceRegistration:gone",
            "type": "ContextSourceRegistration",
            "information": [{"entities": [{"type": "Vehicle"}]}],
            "endpoint": "http://127.0.0.1:9",
            "mode": "redirect",
            "operations": ["redirectionOps"],
        },
    )
    failed = client.get(f"{E}/{V1}", params={"type": "Vehicle"})
    assert failed.status_code == 502, failed.text
    assert failed.json()["detail"].endswith("is unreachable")


def test_an_entity_no_source_holds_is_still_a_404(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, mode="redirect", operations=["redirectionOps"])
    source.reply("GET", f"/entities/{V1}", 404)
    missing = client.get(f"{E}/{V1}", params={"type": "Vehicle"})
    assert missing.status_code == 404, missing.text
