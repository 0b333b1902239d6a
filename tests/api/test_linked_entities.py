"""Linked Entity Retrieval (clause 4.5.23): join=inline|flat, joinLevel, nested pick/omit."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"


def city_graph(client: TestClient) -> None:
    client.post(E, json={"id": "urn:country:fr", "type": "Country", "name": "France"})
    client.post(
        E,
        json={
            "id": "urn:city:paris",
            "type": "City",
            "name": "Paris",
            "isInCountry": {"type": "Relationship", "object": "urn:country:fr"},
        },
    )
    for n in (1, 2):
        client.post(
            E,
            json={
                "id": f"urn:building:{n}",
                "type": "Building",
                "name": f"b{n}",
                "locatedAt": {"type": "Relationship", "object": "urn:city:paris"},
                "owner": {"type": "Relationship", "object": "urn:person:nobody"},
            },
        )


def test_inline_join_nests_linked_entities_to_the_join_level(client: TestClient) -> None:
    city_graph(client)
    one = client.get(f"{E}/urn:building:1", params={"join": "inline"}).json()
    linked = one["locatedAt"]["entity"]
    assert linked["id"] == "urn:city:paris" and linked["name"]["value"] == "Paris"
    assert "entity" not in linked["isInCountry"]  # joinLevel defaults to 1
    assert "entity" not in one["owner"]  # not stored here: not followed
    two = client.get(f"{E}/urn:building:1", params={"join": "inline", "joinLevel": "2"}).json()
    assert two["locatedAt"]["entity"]["isInCountry"]["entity"]["name"]["value"] == "France"
    simple = client.get(
        f"{E}/urn:building:1", params={"join": "inline", "options": "keyValues"}
    ).json()
    assert simple["locatedAt"] == {
        "id": "urn:city:paris",
        "type": "City",
        "name": "Paris",
        "isInCountry": "urn:country:fr",
    }
    with_times = client.get(
        f"{E}/urn:building:1", params={"join": "inline", "options": "sysAttrs"}
    ).json()
    assert "createdAt" in with_times["locatedAt"]["entity"]


def test_flat_join_lists_each_linked_entity_once(client: TestClient) -> None:
    city_graph(client)
    flat = client.get(
        E, params={"type": "Building", "join": "flat", "joinLevel": "2", "options": "keyValues"}
    ).json()
    assert [e["id"] for e in flat] == [
        "urn:building:1",
        "urn:building:2",
        "urn:city:paris",
        "urn:country:fr",
    ]
    assert flat[0]["locatedAt"] == "urn:city:paris"
    posted = client.post(
        "/ngsi-ld/v1/entityOperations/query",
        json={"type": "Query", "entities": [{"type": "Building"}], "join": "flat"},
    ).json()
    assert [e["id"] for e in posted][-1] == "urn:city:paris"


def test_pick_and_omit_reach_into_linked_entities(client: TestClient) -> None:
    city_graph(client)
    picked = client.get(
        f"{E}/urn:building:1",
        params={"join": "inline", "joinLevel": "2", "pick": "id,locatedAt{name,isInCountry{id}}"},
    ).json()
    assert picked == {
        "id": "urn:building:1",
        "locatedAt": {
            "type": "Relationship",
            "object": "urn:city:paris",
            "entity": {
                "name": {"type": "Property", "value": "Paris"},
                "isInCountry": {
                    "type": "Relationship",
                    "object": "urn:country:fr",
                    "entity": {"id": "urn:country:fr"},
                },
            },
        },
    }
    omitted = client.get(
        f"{E}/urn:building:1",
        params={"join": "flat", "omit": "type,owner,locatedAt{name}"},
    ).json()
    assert omitted[0] == {
        "id": "urn:building:1",
        "name": {"type": "Property", "value": "b1"},
        "locatedAt": {"type": "Relationship", "object": "urn:city:paris"},
    }
    assert omitted[1]["type"] == "City" and "name" not in omitted[1]


def test_bad_join_requests(client: TestClient) -> None:
    city_graph(client)
    url = f"{E}/urn:building:1"
    assert client.get(url, params={"join": "sideways"}).status_code == 400
    assert client.get(url, params={"join": "inline", "joinLevel": "0"}).status_code == 400
    assert client.get(url, params={"pick": "locatedAt{name}"}).status_code == 400
    too_deep = {"join": "inline", "pick": "locatedAt{isInCountry{name}}"}
    assert client.get(url, params=too_deep).status_code == 400
