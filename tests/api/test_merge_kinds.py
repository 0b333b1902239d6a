"""Merge Entity keeps the type of an attribute a bare (simplified or concise) value lands on,
and refuses a value that type cannot hold (clauses 5.6.17.4, 5.5.4, table 6.5.3.4-1)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
MERGE = "/ngsi-ld/v1/entityOperations/merge"
BAD = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
ID = "urn:ngsi-ld:T:m1"
URL = f"{E}/{ID}"
POINT = {"type": "Point", "coordinates": [1, 2]}


def every_kind() -> dict[str, Any]:
    return {
        "id": ID,
        "type": "T",
        "p": {"type": "Property", "value": 1},
        "r": {"type": "Relationship", "object": "urn:a:1"},
        "rl": {"type": "ListRelationship", "objectList": ["urn:a:1"]},
        "lp": {"type": "ListProperty", "valueList": [1]},
        "v": {"type": "VocabProperty", "vocab": "x"},
        "g": {"type": "GeoProperty", "value": POINT},
        "l": {"type": "LanguageProperty", "languageMap": {"en": "a"}},
        "j": {"type": "JsonProperty", "json": {"a": 1}},
    }


@pytest.mark.parametrize(
    "fragment",
    [
        {"r": "not a uri"},
        {"r": 5},
        {"r": []},
        {"rl": [5, "x y"]},
        {"rl": "urn:a:2"},
        {"lp": 3},
        {"v": 7},
        {"v": {"a": 1}},
        {"g": "hello"},
        {"g": [1, 2]},
        {"l": 42},
        {"l": {"en": "b"}},
        {"j": 5},
    ],
)
def test_a_bare_value_the_attribute_type_cannot_hold_is_400_and_nothing_changes(
    client: TestClient, fragment: dict[str, Any]
) -> None:
    assert client.post(E, json=every_kind()).status_code == 201
    before = client.get(URL).json()
    merged = client.patch(URL, json=fragment)
    assert merged.status_code == 400, merged.text
    assert merged.json()["type"] == BAD
    simplified = client.patch(URL, json=fragment, params={"format": "keyValues"})
    assert simplified.status_code == 400, simplified.text
    batch = client.post(MERGE, json=[{"id": ID, "type": "T", **fragment}])
    assert batch.status_code == 207, batch.text
    ((error),) = batch.json()["errors"]
    assert error["error"]["type"] == BAD
    assert client.get(URL).json() == before


def test_bare_values_a_type_can_hold_are_merged_as_that_type(client: TestClient) -> None:
    assert client.post(E, json=every_kind()).status_code == 201
    fragment = {
        "p": POINT,
        "r": ["urn:a:2", "urn:a:3"],
        "rl": ["urn:a:2"],
        "lp": [2, 3],
        "v": "y",
        "g": {"type": "Point", "coordinates": [3, 4]},
        "l": "b",
        "j": [1],
    }
    assert client.patch(URL, json=fragment, params={"lang": "fr"}).status_code == 204
    got = client.get(URL).json()
    assert got["p"] == {"type": "Property", "value": POINT}
    assert got["r"] == {"type": "Relationship", "object": ["urn:a:2", "urn:a:3"]}
    assert got["rl"] == {"type": "ListRelationship", "objectList": ["urn:a:2"]}
    assert got["lp"] == {"type": "ListProperty", "valueList": [2, 3]}
    assert got["v"] == {"type": "VocabProperty", "vocab": "y"}
    assert got["g"] == {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [3, 4]}}
    assert got["l"] == {"type": "LanguageProperty", "languageMap": {"en": "a", "fr": "b"}}
    assert got["j"] == {"type": "JsonProperty", "json": [1]}


@pytest.mark.parametrize(
    "params", [{"format": "simplified"}, {"format": "keyValues"}, {"options": "keyValues"}]
)
def test_a_simplified_merge_takes_an_object_as_the_value_and_keeps_the_type(
    client: TestClient, params: dict[str, str]
) -> None:
    """Table 6.5.3.4-1: with format=simplified the body is the simplified representation
    (clause 4.5.4), whose attributes are their values: an object is a Property's new value,
    not a normalized attribute of another type."""
    assert client.post(E, json=every_kind()).status_code == 201
    value = {"type": "Relationship", "object": "urn:x:1"}
    assert client.patch(URL, json={"p": value}, params=params).status_code == 204
    assert client.get(URL).json()["p"] == {"type": "Property", "value": value}
    refused = client.patch(URL, json={"r": {"value": 7}}, params=params)
    assert refused.status_code == 400, refused.text
    assert client.get(URL).json()["r"] == every_kind()["r"]


@pytest.mark.parametrize(
    "fragment",
    [{"p": {"languageMap": {"en": "x"}}}, {"p": {"vocab": "x"}}, {"l": {"json": {"a": 1}}}],
)
def test_a_simplified_merge_that_would_change_a_type_is_400(
    client: TestClient, fragment: dict[str, Any]
) -> None:
    """Table 6.5.3.4-1: "any attempt to modify the type of an Attribute shall result in a
    BadRequest error"."""
    assert client.post(E, json=every_kind()).status_code == 201
    before = client.get(URL).json()
    merged = client.patch(URL, json=fragment, params={"format": "simplified"})
    assert merged.status_code == 400, merged.text
    assert merged.json()["type"] == BAD
    assert client.get(URL).json() == before


def test_a_simplified_merge_reads_kinds_and_datasets_of_clause_4_5_4(client: TestClient) -> None:
    assert client.post(E, json=every_kind()).status_code == 201
    fragment = {
        "l": {"languageMap": {"de": "c"}},
        "v": {"vocab": "z"},
        "new": {"languageMap": {"en": "n"}},
        "s": {"dataset": {"@none": 1, "urn:ds:1": 2}},
    }
    assert client.patch(URL, json=fragment, params={"format": "simplified"}).status_code == 204
    got = client.get(URL).json()
    assert got["l"] == {"type": "LanguageProperty", "languageMap": {"en": "a", "de": "c"}}
    assert got["v"] == {"type": "VocabProperty", "vocab": "z"}
    assert got["new"] == {"type": "LanguageProperty", "languageMap": {"en": "n"}}
    assert sorted(got["s"], key=lambda i: i.get("datasetId", "")) == [
        {"type": "Property", "value": 1},
        {"type": "Property", "value": 2, "datasetId": "urn:ds:1"},
    ]
