"""Where the NGSI-LD Null may stand in a write (clause 5.5.4): it deletes in the Fragments of a
partial update and a merge only. Create, Replace, Append and the batch create, upsert and
update stored it as a value, which notifications and temporal evolutions read as deleted; an
entity `type` Null became a second type; a Null scope in Update Attributes was refused."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
OPS = "/ngsi-ld/v1/entityOperations"
NULL = "urn:ngsi-ld:null"
ID = "urn:ngsi-ld:T:null-1"
CAR = {"id": ID, "type": "T", "a": {"type": "Property", "value": 1}}

NULL_ATTRIBUTES: list[dict[str, Any]] = [
    {"a": {"type": "Property", "value": NULL}},
    {"a": NULL},  # concise
    {"r": {"type": "Relationship", "object": NULL}},
    {"l": {"type": "LanguageProperty", "languageMap": {"@none": NULL}}},
    {"v": {"type": "VocabProperty", "vocab": NULL}},
    {"p": {"type": "ListProperty", "valueList": [NULL]}},
    {"o": {"type": "ListRelationship", "objectList": [NULL]}},
    {"a": {"type": "Property", "value": {"k": NULL, "j": 1}}},
    {"a": {"type": "Property", "value": 1, "sub": {"type": "Property", "value": NULL}}},
]


def _refused(response: Any) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("BadRequestData")


@pytest.mark.parametrize("attributes", NULL_ATTRIBUTES)
def test_create_and_batch_create_refuse_a_null(
    client: TestClient, attributes: dict[str, Any]
) -> None:
    _refused(client.post(E, json={"id": ID, "type": "T", **attributes}))
    assert client.get(f"{E}/{ID}").status_code == 404
    entity = {"id": ID, "type": "T", **attributes}
    for op in ("create", "upsert"):
        answer = client.post(f"{OPS}/{op}", json=[entity])
        assert answer.status_code == 207, answer.text
        assert answer.json()["errors"][0]["error"]["type"].endswith("BadRequestData")
    assert client.get(f"{E}/{ID}").status_code == 404


@pytest.mark.parametrize("attributes", NULL_ATTRIBUTES)
def test_replace_and_append_refuse_a_null(client: TestClient, attributes: dict[str, Any]) -> None:
    assert client.post(E, json=CAR).status_code == 201
    url = f"{E}/{ID}"
    _refused(client.put(url, json={"type": "T", **attributes}))
    _refused(client.post(f"{url}/attrs", json=attributes))
    updated = client.post(f"{OPS}/update", json=[{"id": ID, "type": "T", **attributes}])
    assert updated.status_code == 207, updated.text
    assert client.get(url).json() == CAR  # nothing written


def test_replace_attribute_refuses_a_null(client: TestClient) -> None:
    assert client.post(E, json=CAR).status_code == 201
    url = f"{E}/{ID}/attrs/a"
    _refused(client.put(url, json={"type": "Property", "value": NULL}))
    _refused(client.put(url, json={"type": "Property", "value": {"city": NULL}}))
    assert client.get(f"{E}/{ID}").json() == CAR


def test_a_null_key_of_an_object_value_deletes_in_a_merge_only(client: TestClient) -> None:
    """The third rule of clause 5.5.4: a partial update (Update Attributes, Partial Attribute
    Update) refuses it; a merge deletes the key."""
    addr = {"type": "Property", "value": {"city": "Daegu", "street": "Dalgubeol"}}
    assert client.post(E, json={**CAR, "addr": addr}).status_code == 201
    url = f"{E}/{ID}"
    nulled = {"type": "Property", "value": {"city": NULL}}
    _refused(client.patch(f"{url}/attrs", json={"addr": nulled}))
    _refused(client.patch(f"{url}/attrs/addr", json={"value": {"city": NULL}}))
    assert client.get(url).json()["addr"] == addr
    assert client.patch(url, json={"addr": nulled}).status_code == 204
    assert client.get(url).json()["addr"]["value"] == {"street": "Dalgubeol"}


def test_a_partial_update_deletes_with_a_null(client: TestClient) -> None:
    """Clause 5.5.8: an attribute, and a sub-attribute of the attribute that replaces the old
    one, given as the Null are deleted, not stored."""
    assert client.post(E, json={**CAR, "b": {"type": "Property", "value": 2}}).status_code == 201
    url = f"{E}/{ID}"
    fragment = {
        "b": {"type": "Property", "value": NULL},
        "a": {"type": "Property", "value": 3, "sub": {"type": "Property", "value": NULL}},
    }
    assert client.patch(f"{url}/attrs", json=fragment).status_code == 204
    assert client.get(url).json() == {"id": ID, "type": "T", "a": {"type": "Property", "value": 3}}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "", {"type": NULL}),
        ("PATCH", "/attrs", {"type": NULL}),
        ("POST", "/attrs", {"type": [NULL]}),
    ],
)
def test_a_null_entity_type_is_refused(
    client: TestClient, method: str, path: str, body: dict[str, Any]
) -> None:
    """The type is mandatory (clause 4.5.1): a Null can neither delete it nor be a type."""
    assert client.post(E, json=CAR).status_code == 201
    _refused(client.request(method, f"{E}/{ID}{path}", json=body))
    assert client.get(f"{E}/{ID}").json()["type"] == "T"
    _refused(client.post(E, json={**CAR, "id": "urn:ngsi-ld:T:null-2", "type": ["T", NULL]}))


def test_update_attributes_with_a_null_scope_deletes_the_scope(client: TestClient) -> None:
    """Clauses 5.5.8 and 5.6.2.4, as Merge Entity does (clause 5.5.12)."""
    assert client.post(E, json={**CAR, "scope": "/s"}).status_code == 201
    url = f"{E}/{ID}"
    assert client.patch(f"{url}/attrs", json={"scope": NULL}).status_code == 204
    assert "scope" not in client.get(url).json()
    _refused(client.post(f"{url}/attrs", json={"scope": NULL}))  # Append: no Null


def test_an_upsert_in_update_mode_deletes_with_a_null_as_update_attributes_does(
    client: TestClient,
) -> None:
    """Clause 5.6.8.4: an upsert with `options=update` of an existing entity runs Update
    Attributes (clause 5.6.2), whose Null deletes the attribute (5.5.8). It stored the Null as
    the value, then refused it; a new entity cannot be made of Nulls (prov-12)."""
    body = {**CAR, "b": {"type": "Property", "value": 2}, "c": {"type": "Property", "value": 3}}
    assert client.post(E, json=body).status_code == 201
    fragment = {"id": ID, "type": "T", "a": {"type": "Property", "value": NULL}, "b": NULL}
    fragment["d"] = {"type": "Property", "value": 4}
    answer = client.post(f"{OPS}/upsert", params={"options": "update"}, json=[fragment])
    assert answer.status_code == 204, answer.text
    got = client.get(f"{E}/{ID}").json()
    assert got == {"id": ID, "type": "T", "c": body["c"], "d": {"type": "Property", "value": 4}}
    new = {"id": "urn:ngsi-ld:T:null-new", "type": "T", "a": NULL}
    answer = client.post(f"{OPS}/upsert", params={"options": "update"}, json=[new])
    assert answer.status_code == 207, answer.text
    assert answer.json()["errors"][0]["error"]["type"].endswith("BadRequestData")
    assert client.get(f"{E}/urn:ngsi-ld:T:null-new").status_code == 404


def test_errors_name_the_default_instance_and_a_bad_dataset_id_is_a_400(
    client: TestClient,
) -> None:
    """The details said "datasetId None" for the default instance, and a `datasetId` that is
    no URI was looked for, a 404 (prov-16)."""
    body = {"id": ID, "type": "T", "c": {"type": "Property", "value": 1, "datasetId": "urn:d:1"}}
    assert client.post(E, json=body).status_code == 201
    missing = client.delete(f"{E}/{ID}/attrs/c")
    assert missing.status_code == 404
    assert "None" not in missing.json()["detail"]
    assert "default instance" in missing.json()["detail"]
    bad = client.delete(f"{E}/{ID}/attrs/c", params={"datasetId": "not a uri"})
    assert bad.status_code == 400, bad.text
    twice = {"id": f"{ID}:b", "type": "T", "b": [{"value": 1}, {"value": 2}]}
    repeated = client.post(E, json=twice)
    assert repeated.status_code == 400
    assert "None" not in repeated.json()["detail"]
    assert client.get(f"{E}/{ID}").json()["c"]["value"] == 1
