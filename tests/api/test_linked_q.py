"""Linked-entity terms of `q` (ETSI GS CIM 009 V1.9.1 clause 4.9, examples 13 and 14) on every
store backend: `sensor{humidity}==40` keeps the entities whose `sensor` Relationship targets an
entity whose `humidity` is 40, in GET /entities, the query operation and the temporal API.
Query Entities takes them with Linked Entity retrieval only, as deep as `joinLevel` (clause
5.7.2.4); the temporal API has no `join`."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.broker import linked_query

E = "/ngsi-ld/v1/entities"
QUERY = "/ngsi-ld/v1/entityOperations/query"
T = "/ngsi-ld/v1/temporal/entities"
S = "/ngsi-ld/v1/subscriptions"
JOIN = {"join": "inline", "joinLevel": "2"}
DEVICE = "urn:ngsi-ld:Device:"
STATION = "urn:ngsi-ld:WeatherStation:"


def rel(target: str | list[str], **more: Any) -> dict[str, Any]:
    if isinstance(target, list):
        return {"type": "ListRelationship", "objectList": [{"object": t} for t in target]}
    return {"type": "Relationship", "object": target, **more}


def prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


@pytest.fixture
def city(client: TestClient) -> TestClient:
    entities = [
        {"id": f"{DEVICE}1", "type": "Device", "humidity": prop(40)},
        {"id": f"{DEVICE}2", "type": "Device", "humidity": prop(55)},
        {"id": f"{DEVICE}3", "type": "Device", "temperature": prop(20)},
        {"id": "urn:ngsi-ld:Probe:1", "type": "Probe", "humidity": prop(40)},
        {"id": "urn:ngsi-ld:Site:A", "type": "Site", "sensor": rel(f"{DEVICE}1")},
        {"id": "urn:ngsi-ld:Site:B", "type": "Site", "sensor": rel(f"{DEVICE}2")},
        # example 13's station, and stations linking elsewhere
        {"id": f"{STATION}1", "type": "WeatherStation", "sensor": rel(f"{DEVICE}1")},
        {"id": f"{STATION}2", "type": "WeatherStation", "sensor": rel(f"{DEVICE}2")},
        {"id": f"{STATION}3", "type": "WeatherStation", "sensor": rel(f"{DEVICE}3")},
        {"id": f"{STATION}4", "type": "WeatherStation", "sensor": rel("urn:ngsi-ld:Probe:1")},
        {"id": f"{STATION}5", "type": "WeatherStation", "sensor": rel(f"{DEVICE}404")},
        {
            "id": f"{STATION}6",
            "type": "WeatherStation",
            "sensor": [rel(f"{DEVICE}2"), rel(f"{DEVICE}1", datasetId="urn:ngsi-ld:Set:b")],
        },
        {
            "id": f"{STATION}7",
            "type": "WeatherStation",
            "sensor": rel([f"{DEVICE}3", f"{DEVICE}1"]),
        },
        {"id": f"{STATION}8", "type": "WeatherStation", "humidity": prop(40)},
        {"id": f"{STATION}9", "type": "WeatherStation", "site": rel("urn:ngsi-ld:Site:A")},
        {"id": f"{STATION}10", "type": "WeatherStation", "site": rel("urn:ngsi-ld:Site:B")},
    ]
    for body in entities:
        assert client.post(E, json=body).status_code == 201, body
    return client


def stations(client: TestClient, q: str, **params: str) -> list[int]:
    response = client.get(E, params={"type": "WeatherStation", "q": q, **JOIN, **params})
    assert response.status_code == 200, response.text
    return sorted(int(e["id"].rsplit(":", 1)[1]) for e in response.json())


def test_a_relationship_followed_to_its_target_attribute_example_13(city: TestClient) -> None:
    # Relationship, one instance of several (datasetId), one object of a ListRelationship
    assert stations(city, "sensor{humidity}==40") == [1, 4, 6, 7]
    assert stations(city, "sensor{humidity}>50") == [2, 6]
    assert stations(city, "sensor{humidity}!=40") == [2, 6]
    # an attribute path alone: the target entity has it
    assert stations(city, "sensor{humidity}") == [1, 2, 4, 6, 7]
    assert stations(city, "sensor{temperature}") == [3, 7]
    # the station's own humidity is not its sensor's
    assert stations(city, "humidity==40") == [8]


def test_an_entity_type_hint_narrows_the_targets_example_14(city: TestClient) -> None:
    assert stations(city, "sensor{Device:humidity}==40") == [1, 6, 7]
    assert stations(city, "sensor{Probe:humidity}==40") == [4]
    assert stations(city, "sensor{Device,Probe:humidity}==40") == [1, 4, 6, 7]
    assert stations(city, "sensor{Site:humidity}==40") == []


def test_linked_paths_nest_and_combine_with_other_terms(city: TestClient) -> None:
    # the operator follows every `}` (the ABNF's QueryTerm), never inside one
    response = city.get(E, params={"type": "WeatherStation", "q": "site{sensor{humidity}==40}"})
    assert response.status_code == 400
    assert "unexpected '==' at position 21" in response.json()["detail"]
    assert stations(city, "site{sensor{humidity}}==40") == [9]
    assert stations(city, "site{Site:sensor{Device:humidity}}>=50") == [10]
    assert stations(city, "sensor{humidity}==40;sensor{temperature}") == [7]
    assert stations(city, "sensor{humidity}==99|humidity==40") == [8]
    assert stations(city, "(sensor{humidity}==99;humidity==40)|site") == [9, 10]
    query = {"type": "WeatherStation", "count": "true", **JOIN}
    response = city.get(E, params={**query, "q": "sensor{humidity}==99"})
    assert response.json() == [] and response.headers["NGSILD-Results-Count"] == "0"
    response = city.get(E, params={**query, "q": "sensor{humidity}==40"})
    assert response.headers["NGSILD-Results-Count"] == "4"


def test_many_linked_targets_one_query(city: TestClient) -> None:
    """More targets than a statement lists one by one (the stores read them as one list)."""
    devices = [{"id": f"{DEVICE}m{n}", "type": "Device", "humidity": prop(70)} for n in range(40)]
    links = [
        {"id": f"{STATION}{100 + n}", "type": "WeatherStation", "sensor": rel(f"{DEVICE}m{n}")}
        for n in range(0, 40, 2)
    ]
    response = city.post("/ngsi-ld/v1/entityOperations/create", json=devices + links)
    assert response.status_code == 201, response.text
    found = stations(city, "sensor{humidity}==70", limit="100")
    assert found == list(range(100, 140, 2))


def test_the_query_operation_and_the_temporal_api_follow_links(city: TestClient) -> None:
    body = {
        "type": "Query",
        "entities": [{"type": "WeatherStation"}],
        "q": "sensor{humidity}==40",
        "join": "inline",
    }
    response = city.post(QUERY, json=body)
    assert response.status_code == 200, response.text
    assert sorted(e["id"] for e in response.json()) == [f"{STATION}{n}" for n in (1, 4, 6, 7)]
    since = {"timerel": "after", "timeAt": "2000-01-01T00:00:00Z", "timeproperty": "createdAt"}
    params = {"type": "WeatherStation", "q": "sensor{Device:humidity}==40", **since}
    response = city.get(T, params=params)
    assert response.status_code == 200, response.text
    assert sorted(e["id"] for e in response.json()) == [f"{STATION}{n}" for n in (1, 6, 7)]
    params = {"type": "WeatherStation", "q": "sensor{humidity}==99", **since}
    response = city.get(T, params=params)
    assert response.status_code == 200 and response.json() == []


@pytest.mark.parametrize(
    ("q", "params"),
    [
        ("sensor{humidity}==40", {}),
        ("sensor{humidity}==40", {"join": "@none"}),
        ("humidity==40|sensor{humidity}", {"joinLevel": "3"}),
        ("site{sensor{humidity}}==40", {"join": "inline"}),  # joinLevel is 1 by default
        ("site{sensor{humidity}}==40", {"join": "flat", "joinLevel": "1"}),
    ],
)
def test_a_linked_query_without_join_or_past_join_level_is_too_deep(
    city: TestClient, q: str, params: dict[str, str]
) -> None:
    """Clause 5.7.2.4: Linked Entity attributes in the filter without Linked Entity retrieval,
    or deeper than its depth, are a BadRequestData ("too deep query"); they were answered."""
    response = city.get(E, params={"type": "WeatherStation", "q": q, **params})
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/BadRequestData")
    assert "too deep query" in response.json()["detail"]
    body = {"type": "Query", "entities": [{"type": "WeatherStation"}], "q": q, **params}
    if "joinLevel" in body:
        body["joinLevel"] = int(body["joinLevel"])
    assert city.post(QUERY, json=body).status_code == 400


def test_links_stay_in_the_tenant(city: TestClient) -> None:
    other = {"NGSILD-Tenant": "other"}
    body = {"id": f"{STATION}1", "type": "WeatherStation", "sensor": rel(f"{DEVICE}2")}
    assert city.post(E, json=body, headers=other).status_code == 201
    params = {"type": "WeatherStation", "q": "sensor{humidity}==55", **JOIN}
    response = city.get(E, params=params, headers=other)
    assert response.status_code == 200 and response.json() == []


def test_too_many_targets_is_too_complex(city: TestClient, monkeypatch: Any) -> None:
    monkeypatch.setattr(linked_query, "MAX_TARGETS", 2)
    assert stations(city, "sensor{Device,Probe:humidity}==40") == [1, 4, 6, 7]  # two targets
    response = city.get(E, params={"type": "WeatherStation", "q": "sensor{humidity}", **JOIN})
    assert response.status_code == 403, response.text
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/TooComplexQuery"
    assert "more than 2 entities" in response.json()["detail"]


def test_subscriptions_refuse_linked_terms_with_a_reason(city: TestClient) -> None:
    body = {
        "type": "Subscription",
        "entities": [{"type": "WeatherStation"}],
        "q": "sensor{humidity}==40",
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}},
    }
    response = city.post(S, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/OperationNotSupported")
    assert "not supported in subscriptions" in response.json()["detail"]
