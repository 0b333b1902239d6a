"""`q` on the keys of a JsonProperty's JSON (clause 4.9, EXAMPLE 11), on every store backend:
queries, the query operation and subscriptions."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.receiver import Receiver

E = "/ngsi-ld/v1/entities"
QUERY = "/ngsi-ld/v1/entityOperations/query"
S = "/ngsi-ld/v1/subscriptions"
OVERSTAY = "Overstay 60 minutes"


def car(n: int, tickets: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Car:{n}",
        "type": "Car",
        "parkingTickets": {"type": "JsonProperty", "json": tickets},
    }


@pytest.fixture
def parked(client: TestClient) -> TestClient:
    """Three cars with tickets, and one whose tickets are a plain Property."""
    bodies = [
        car(1, {"id": "85a6cc52-0589-45f9", "value": OVERSTAY, "minutes": 60}),
        car(2, {"id": "9c1f", "value": "No permit", "minutes": 0, "fine": {"amount": 80}}),
        car(3, {"id": "77aa", "value": OVERSTAY, "minutes": 120, "fine": {"amount": 40}}),
        {
            "id": "urn:ngsi-ld:Car:4",
            "type": "Car",
            "parkingTickets": {"type": "Property", "value": {"value": "No permit"}},
        },
    ]
    for body in bodies:
        assert client.post(E, json=body).status_code == 201
    return client


def found(client: TestClient, q: str) -> list[str]:
    response = client.get(E, params={"type": "Car", "q": q, "jsonKeys": "parkingTickets"})
    assert response.status_code == 200, response.text
    return sorted(e["id"].rsplit(":", 1)[1] for e in response.json())


def test_q_equality_on_a_json_key_finds_the_entity_of_example_11(parked: TestClient) -> None:
    assert found(parked, f'parkingTickets[value]=="{OVERSTAY}"') == ["1", "3"]
    response = parked.get(
        E, params={"type": "Car", "q": 'parkingTickets[id]=="85a6cc52-0589-45f9"'}
    )
    assert [e["id"] for e in response.json()] == ["urn:ngsi-ld:Car:1"]


def test_q_range_and_comparisons_on_a_json_key_compare_numbers(parked: TestClient) -> None:
    assert found(parked, "parkingTickets[minutes]==30..90") == ["1"]
    assert found(parked, "parkingTickets[minutes]>50") == ["1", "3"]
    assert found(parked, "parkingTickets[minutes]<=0") == ["2"]


def test_q_on_a_nested_json_key_reads_both_spellings(parked: TestClient) -> None:
    assert found(parked, "parkingTickets[fine.amount]>50") == ["2"]
    assert found(parked, "parkingTickets[fine][amount]>=40") == ["2", "3"]


def test_q_pattern_on_a_json_key(parked: TestClient) -> None:
    assert found(parked, 'parkingTickets[value]~="^Over"') == ["1", "3"]


def test_q_on_a_json_key_that_no_entity_has_matches_nothing(parked: TestClient) -> None:
    assert found(parked, 'parkingTickets[value]=="No permit"') == ["2", "4"]
    assert found(parked, 'parkingTickets[reason]=="No permit"') == []
    assert found(parked, "parkingTickets[fine.amount]") == ["2", "3"]
    assert found(parked, "parkingTickets[fine.currency]") == []


def test_q_existence_of_a_json_key(parked: TestClient) -> None:
    assert found(parked, "parkingTickets[fine]") == ["2", "3"]
    assert found(parked, "parkingTickets[minutes]") == ["1", "2", "3"]


def test_q_not_equal_on_a_json_key_needs_the_key(parked: TestClient) -> None:
    # car 4's Property holds the same key: a compound value, as before
    assert found(parked, f'parkingTickets[value]!="{OVERSTAY}"') == ["2", "4"]
    assert found(parked, "parkingTickets[fine.amount]!=80") == ["3"]


def test_q_on_a_json_key_follows_updates_of_the_json(parked: TestClient) -> None:
    patch = {"type": "JsonProperty", "json": {"value": "Paid", "minutes": 60}}
    response = parked.patch(f"{E}/urn:ngsi-ld:Car:1/attrs/parkingTickets", json=patch)
    assert response.status_code == 204, response.text
    assert found(parked, f'parkingTickets[value]=="{OVERSTAY}"') == ["3"]
    assert found(parked, 'parkingTickets[value]=="Paid"') == ["1"]
    assert found(parked, "parkingTickets[id]") == ["2", "3"]


def test_the_query_operation_reads_json_keys(parked: TestClient) -> None:
    body = {
        "type": "Query",
        "entities": [{"type": "Car"}],
        "q": f'parkingTickets[value]=="{OVERSTAY}";parkingTickets[minutes]>100',
    }
    response = parked.post(QUERY, json=body)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == ["urn:ngsi-ld:Car:3"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_a_subscription_whose_q_names_a_json_key_is_notified(
    client: TestClient, receiver: Receiver
) -> None:
    subscription = {
        "type": "Subscription",
        "entities": [{"type": "Car"}],
        "q": f'parkingTickets[value]=="{OVERSTAY}"',
        "notification": {"endpoint": {"uri": receiver.url}},
    }
    assert client.post(S, json=subscription).status_code == 201
    client.post(E, json=car(1, {"value": "No permit"}))  # no match: no notification
    client.post(E, json=car(2, {"value": OVERSTAY}))
    _, body = receiver.next()
    assert [e["id"] for e in body["data"]] == ["urn:ngsi-ld:Car:2"]
    assert body["data"][0]["parkingTickets"]["json"] == {"value": OVERSTAY}
    with pytest.raises(queue.Empty):
        receiver.next(timeout=0.5)
