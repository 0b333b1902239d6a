"""Paging pointers (ETSI GS CIM 009 V1.9.1 clause 5.5.9): `next` only while more elements are
pending, `prev` on every page but the first, on the GET and the POST queries (outside tester
http-9, http-11)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
Q = "/ngsi-ld/v1/entityOperations/query"
T = "/ngsi-ld/v1/temporal/entities"
TQ = "/ngsi-ld/v1/temporal/entityOperations/query"
TEMPORAL = {"timerel": "after", "timeAt": "2000-01-01T00:00:00Z", "timeproperty": "createdAt"}


@pytest.fixture
def six(client: TestClient) -> TestClient:
    for n in range(6):
        body = {
            "id": f"urn:ngsi-ld:Car:{n}",
            "type": "Car",
            "speed": {"type": "Property", "value": n},
        }
        assert client.post(E, json=body).status_code == 201
    return client


def rels(response: object) -> dict[str, str]:
    """rel → target of the paging links of an answer."""
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    found = {}
    for part in response.headers.get("Link", "").split(","):  # type: ignore[attr-defined]
        if 'rel="next"' in part or 'rel="prev"' in part:
            target = part.split(">")[0].strip().lstrip("<")
            found["next" if 'rel="next"' in part else "prev"] = target
    return found


def test_a_full_last_page_has_no_next(six: TestClient) -> None:
    assert set(rels(six.get(E, params={"type": "Car", "limit": "2", "offset": "4"}))) == {"prev"}
    assert rels(six.get(E, params={"type": "Car", "limit": "6"})) == {}
    assert set(rels(six.get(E, params={"type": "Car", "limit": "2", "offset": "2"}))) == {
        "next",
        "prev",
    }


def test_following_next_reaches_every_entity_once(six: TestClient) -> None:
    seen: list[str] = []
    response = six.get(E, params={"type": "Car", "limit": "4"})
    while True:
        seen += [e["id"] for e in response.json()]
        link = rels(response).get("next")
        if link is None:
            break
        response = six.get(link)
    assert sorted(seen) == [f"urn:ngsi-ld:Car:{n}" for n in range(6)]


def test_limit_zero_gives_no_pointer_to_itself(six: TestClient) -> None:
    answer = six.get(E, params={"type": "Car", "limit": "0", "offset": "5", "count": "true"})
    assert answer.headers["NGSILD-Results-Count"] == "6"
    assert rels(answer) == {}
    assert rels(six.get("/ngsi-ld/v1/subscriptions", params={"limit": "0", "offset": "1"})) == {}


def test_temporal_full_last_page_has_no_next(six: TestClient) -> None:
    assert rels(six.get(T, params={"type": "Car", "limit": "6", **TEMPORAL})) == {}
    assert "next" in rels(six.get(T, params={"type": "Car", "limit": "5", **TEMPORAL}))


def test_post_query_pages_link_next_and_prev(six: TestClient) -> None:
    body = {"type": "Query", "entities": [{"type": "Car"}]}
    middle = rels(six.post(Q, params={"limit": "2", "offset": "2"}, json=body))
    assert middle == {
        "next": "/ngsi-ld/v1/entityOperations/query?limit=2&offset=4",
        "prev": "/ngsi-ld/v1/entityOperations/query?limit=2&offset=0",
    }
    last = six.post(middle["next"], json=body)  # the same body posted to the pointer
    assert len(last.json()) == 2
    assert set(rels(last)) == {"prev"}


def test_temporal_post_query_pages_link_next(six: TestClient) -> None:
    body = {"type": "Query", "entities": [{"type": "Car"}], "temporalQ": TEMPORAL}
    first = rels(six.post(TQ, params={"limit": "1", "count": "true"}, json=body))
    assert first == {
        "next": "/ngsi-ld/v1/temporal/entityOperations/query?limit=1&count=true&offset=1"
    }
