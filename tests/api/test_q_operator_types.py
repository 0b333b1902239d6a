"""Clause 4.9: which data types each `q` operator matches, on every store backend.

A Relationship or ListRelationship takes `==` and `!=` only ("the combination of such target
element with any operator different than equal or unequal shall result in not matching"), and
`!~=` matches strings only ("If the target value data type is different than String then it
shall be considered as not matching"). The subscriptions' matcher agrees:
tests/subscriptions/test_q_matching.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"


def _rel(n: int, target: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Qt:e{n}",
        "type": "Qt",
        "rel": {"type": "Relationship", "object": target},
    }


@pytest.fixture
def related(client: TestClient) -> TestClient:
    bodies: list[dict[str, Any]] = [
        _rel(1, "urn:ngsi-ld:Qt:e2"),
        _rel(2, ["urn:ngsi-ld:Qt:e1", "urn:ngsi-ld:Qt:e3"]),
        {**_rel(3, "urn:ngsi-ld:Qt:e9"), "rel": {"type": "Property", "value": "urn:ngsi-ld:Qt:e9"}},
        {
            "id": "urn:ngsi-ld:Qt:e4",
            "type": "Qt",
            "route": {
                "type": "ListRelationship",
                "objectList": [{"object": "urn:ngsi-ld:Qt:e2"}, {"object": "urn:ngsi-ld:Qt:e1"}],
            },
            "owner": {
                "type": "Property",
                "value": "x",
                "by": {"type": "Relationship", "object": "urn:ngsi-ld:Qt:e1"},
            },
        },
    ]
    for body in bodies:
        assert client.post(E, json=body).status_code == 201
    return client


def ids(client: TestClient, q: str) -> list[str]:
    response = client.get(E, params={"type": "Qt", "q": q})
    assert response.status_code == 200, response.text
    return [e["id"].rsplit(":", 1)[1] for e in response.json()]


@pytest.mark.parametrize(
    "q",
    [
        'rel>"urn:ngsi-ld:Qt:e0"',
        'rel<="urn:ngsi-ld:Qt:e9"',
        'rel~=".*"',
        'rel!~="nothing"',
        'route>"urn:ngsi-ld:Qt:e0"',
        'route~="Qt"',
        'owner.by~="Qt"',
        'owner.by>="urn"',
    ],
)
def test_relationship_with_an_operator_other_than_equal_or_unequal_matches_nothing(
    related: TestClient, q: str
) -> None:
    """The objects were compared as strings: e1 and e2 matched (e3's Property holds the
    same text and does match)."""
    found = ids(related, q)
    assert found == (["e3"] if q.startswith("rel") else [])


def test_relationship_still_takes_equal_and_unequal(related: TestClient) -> None:
    assert ids(related, 'rel=="urn:ngsi-ld:Qt:e2"') == ["e1"]
    assert ids(related, "rel==urn:ngsi-ld:Qt:e3") == ["e2"]
    assert ids(related, 'rel!="urn:ngsi-ld:Qt:e2"') == ["e2", "e3"]
    assert ids(related, "route==urn:ngsi-ld:Qt:e1") == ["e4"]
    assert ids(related, 'owner.by=="urn:ngsi-ld:Qt:e1"') == ["e4"]
    assert ids(related, 'owner~="x"') == ["e4"]  # the Property holding the Relationship


def test_not_pattern_matches_strings_only(client: TestClient) -> None:
    """`!~=` was "not `~=`": every number and boolean matched it."""
    values: list[Any] = [20, 25.5, "20", True, "true", {"a": "b"}, ["red", 5], ["x", "y"]]
    for n, value in enumerate(values):
        body = {
            "id": f"urn:ngsi-ld:Qt:v{n}",
            "type": "Qt",
            "v": {"type": "Property", "value": value},
        }
        assert client.post(E, json=body).status_code == 201
    # "20", "true", and ["red", 5] for its string; not ["x", "y"]
    assert ids(client, 'v!~="x"') == ["v2", "v4", "v6"]
    assert ids(client, 'v!~="^r"') == ["v2", "v4", "v7"]
    assert ids(client, 'v~="^(2|t)"') == ["v2", "v4"]
