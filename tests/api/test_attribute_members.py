"""Members an attribute instance of a kind "shall never" have are refused (clauses 4.5.2.2,
4.5.3.2, 4.5.18.2, 4.5.21.2, 4.5.22.3, 4.5.24.2), as are languageMap keys that are no language
tags and the `previous*` members only notifications show. They were stored, and a stray
`value` on a LanguageProperty was then answered as its English text (an outside test, round 6).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"


@pytest.mark.parametrize(
    "attribute",
    [
        {"type": "LanguageProperty", "languageMap": {"en": "x"}, "value": "y"},
        {"type": "LanguageProperty", "languageMap": {"en": "x"}, "unitCode": "MTR"},
        {"type": "JsonProperty", "json": {"a": 1}, "unitCode": "MTR"},
        {"type": "ListProperty", "valueList": [1], "value": [1]},
        {"type": "ListRelationship", "objectList": ["urn:a"], "object": "urn:b"},
        {"type": "Property", "value": 1, "languageMap": {"en": "x"}},
        {"type": "Property", "value": 1, "vocab": "x"},
        {"type": "Relationship", "object": "urn:a", "objectList": ["urn:b"]},
        {"languageMap": {"en": "x"}, "value": "y"},  # no type: two value members
        {
            "type": "LanguageProperty",
            "languageMap": {"en": "x"},
            "previousLanguageMap": {"en": "y"},
        },
        {"type": "Property", "value": 1, "previousValue": 0},
        {"type": "LanguageProperty", "languageMap": {"english!": "x"}},
        {"type": "LanguageProperty", "languageMap": {"": "x"}},
        {"type": "LanguageProperty", "languageMap": {"en_US": "x"}},
    ],
)
def test_a_member_the_kind_never_has_is_a_400(
    client: TestClient, attribute: dict[str, Any]
) -> None:
    entity = {"id": "urn:ngsi-ld:V:1", "type": "V", "a": attribute}
    refused = client.post(E, json=entity)
    assert refused.status_code == 400, refused.text
    assert refused.json()["type"].endswith("BadRequestData")
    assert client.get(f"{E}/urn:ngsi-ld:V:1").status_code == 404
    fragment = client.patch(f"{E}/urn:ngsi-ld:V:1/attrs", json={"a": attribute})
    assert fragment.status_code in (400, 404)


@pytest.mark.parametrize(
    "attribute",
    [
        {"type": "LanguageProperty", "languageMap": {"en": "x", "de-CH": "y", "@none": "z"}},
        {"type": "LanguageProperty", "languageMap": {"zh-Hant-TW": "x", "ko": "가"}},
        {"type": "Property", "value": 1, "unitCode": "MTR", "observedAt": "2024-01-01T00:00:00Z"},
        {"type": "ListRelationship", "objectList": [{"object": "urn:a"}]},
    ],
)
def test_the_members_each_kind_has_are_kept(client: TestClient, attribute: dict[str, Any]) -> None:
    entity = {"id": "urn:ngsi-ld:V:2", "type": "V", "a": attribute}
    assert client.post(E, json=entity).status_code == 201
    assert client.get(f"{E}/urn:ngsi-ld:V:2").status_code == 200


def test_value_type_and_expires_at_are_members_not_sub_properties(client: TestClient) -> None:
    """Clause 4.5.2.2: `valueType` is "a non-reified alternative" to a typed value, type
    coerced into a datatype IRI (the core context: `@type: @vocab`), and `expiresAt` a
    DateTime (clause 4.22). Both were stored as sub-Properties, another graph than the one
    sent (an outside test, round 6)."""
    entity = {
        "id": "urn:ngsi-ld:VT:1",
        "type": "VT",
        "t": {"type": "Property", "value": "2024-05-01T10:00:00Z", "valueType": "DateTime"},
        "n": {"type": "Property", "value": 5, "valueType": "xsd:integer"},
        "e": {"type": "Property", "value": 1, "expiresAt": "2030-01-01T00:00:00Z"},
    }
    assert client.post(E, json=entity).status_code == 201
    got = client.get(f"{E}/urn:ngsi-ld:VT:1").json()
    assert got["t"] == {
        "type": "Property",
        "value": "2024-05-01T10:00:00Z",
        "valueType": "DateTime",
    }
    assert got["n"]["valueType"] == "xsd:integer"
    assert got["e"] == {"type": "Property", "value": 1, "expiresAt": "2030-01-01T00:00:00Z"}
    concise = client.get(f"{E}/urn:ngsi-ld:VT:1", params={"format": "concise"}).json()
    assert concise["t"] == {"value": "2024-05-01T10:00:00Z", "valueType": "DateTime"}
    for bad in ({"valueType": 5}, {"expiresAt": "soon"}):
        attribute = {"type": "Property", "value": 1, **bad}
        body = {"id": "urn:ngsi-ld:VT:2", "type": "VT", "a": attribute}
        assert client.post(E, json=body).status_code == 400
