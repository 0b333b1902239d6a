"""`expandValues` (clause 4.9, example 12) wherever a `q` is given: the GET query had it, but a
subscription stored it and matched without it (a VocabProperty `q` that a query matches never
notified), and the POST query's body member was ignored (Query, clause 5.2.23): both answered
nothing, silently (an outside test, round 6)."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.hosted_contexts import link_to
from tests.receiver import Receiver

E = "/ngsi-ld/v1/entities"
S = "/ngsi-ld/v1/subscriptions"
QUERY = "/ngsi-ld/v1/entityOperations/query"
CONTEXT = {"Red": "http://example.org/colors/Red", "color": "http://example.org/color"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _bus(client: TestClient, link: dict[str, str], n: int, color: str) -> None:
    bus = {
        "id": f"urn:ngsi-ld:Bus:{n}",
        "type": "Bus",
        "color": {"type": "VocabProperty", "vocab": color},
    }
    assert client.post(E, json=bus, headers=link).status_code == 201


def test_a_subscription_expands_the_values_it_names(client: TestClient, receiver: Receiver) -> None:
    link = link_to(client, CONTEXT)
    endpoint = {"uri": receiver.url}
    for expand in ("color", ["color"]):
        sub = {
            "type": "Subscription",
            "entities": [{"type": "Bus"}],
            "q": 'color=="Red"',
            "expandValues": expand,
            "notification": {"endpoint": endpoint, "format": "keyValues"},
        }
        created = client.post(S, json=sub, headers=link)
        assert created.status_code == 201, created.text
        assert client.get(created.headers["location"]).json()["expandValues"] == expand
        _bus(client, link, 1, "Blue")  # the q does not match
        _bus(client, link, 2, "Red")
        _, notified = receiver.next()
        assert [e["id"] for e in notified["data"]] == ["urn:ngsi-ld:Bus:2"]
        assert notified["data"][0]["color"] == {"vocab": "Red"}  # compacted (4.5.20)
        with pytest.raises(queue.Empty):
            receiver.next(timeout=0.5)
        assert client.delete(created.headers["location"]).status_code == 204
        for n in (1, 2):
            assert client.delete(f"{E}/urn:ngsi-ld:Bus:{n}").status_code == 204


def test_a_subscription_refuses_expand_values_that_name_nothing(client: TestClient) -> None:
    sub = {
        "type": "Subscription",
        "entities": [{"type": "Bus"}],
        "q": 'color=="Red"',
        "expandValues": 5,
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/x"}},
    }
    refused = client.post(S, json=sub)
    assert refused.status_code == 400 and "expandValues" in refused.json()["detail"]


def test_the_post_query_takes_expand_values_from_its_body(client: TestClient) -> None:
    link = link_to(client, CONTEXT)
    _bus(client, link, 1, "Blue")
    _bus(client, link, 2, "Red")
    for expand in ("color", ["color"]):
        body = {"type": "Query", "entities": [{"type": "Bus"}], "q": 'color=="Red"'}
        found = client.post(QUERY, json={**body, "expandValues": expand}, headers=link)
        assert found.status_code == 200, found.text
        assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Bus:2"]
        assert client.post(QUERY, json=body, headers=link).json() == []  # the text "Red"
