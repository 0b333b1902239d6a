"""Linked Entity Retrieval (clause 4.5.23): join=inline|flat, joinLevel, containedBy, and
pick/omit reaching into linked entities, on both stores."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
QUERY = "/ngsi-ld/v1/entityOperations/query"
B1 = f"{E}/urn:building:1"


def city_graph(client: TestClient) -> None:
    """Two buildings in Paris, Paris in France; building 1 also has an owner stored nowhere."""
    client.post(E, json={"id": "urn:country:fr", "type": "Country", "name": "France"})
    client.post(
        E,
        json={
            "id": "urn:city:paris",
            "type": "City",
            "name": "Paris",
            "scope": "/Europe/France",
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


def get(client: TestClient, url: str, **params: str) -> Any:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_inline_join_puts_the_linked_entity_in_the_relationship(client: TestClient) -> None:
    city_graph(client)
    linked = get(client, B1, join="inline")["locatedAt"]["entity"]
    assert linked["id"] == "urn:city:paris" and linked["name"] == {
        "type": "Property",
        "value": "Paris",
    }
    assert "entity" not in linked["isInCountry"]  # joinLevel defaults to 1


def test_inline_join_nests_to_the_join_level(client: TestClient) -> None:
    city_graph(client)
    two = get(client, B1, join="inline", joinLevel="2")
    assert two["locatedAt"]["entity"]["isInCountry"]["entity"]["name"]["value"] == "France"


def test_a_target_not_stored_here_is_not_followed(client: TestClient) -> None:
    city_graph(client)
    assert "entity" not in get(client, B1, join="inline")["owner"]
    simple = get(client, B1, join="inline", format="simplified")
    assert simple["owner"] == "urn:person:nobody"


def test_simplified_inline_join_replaces_the_target_with_the_entity(client: TestClient) -> None:
    city_graph(client)
    simple = get(client, B1, join="inline", options="keyValues")
    assert simple["locatedAt"] == {
        "id": "urn:city:paris",
        "type": "City",
        "scope": "/Europe/France",
        "name": "Paris",
        "isInCountry": "urn:country:fr",
    }


def test_concise_inline_join_renders_linked_entities_concisely(client: TestClient) -> None:
    city_graph(client)
    concise = get(client, B1, join="inline", format="concise")
    assert concise["locatedAt"]["object"] == "urn:city:paris"
    assert concise["locatedAt"]["entity"]["name"] == "Paris"


def test_sys_attrs_reach_linked_entities(client: TestClient) -> None:
    city_graph(client)
    linked = get(client, B1, join="inline", options="sysAttrs")["locatedAt"]["entity"]
    assert "createdAt" in linked and "modifiedAt" in linked


def test_a_relationship_with_several_objects_gets_an_array_of_entities(
    client: TestClient,
) -> None:
    for name in ("alice", "bob"):
        client.post(E, json={"id": f"urn:person:{name}", "type": "Person", "name": name})
    client.post(
        E,
        json={
            "id": "urn:car:1",
            "type": "Vehicle",
            "passengers": {
                "type": "Relationship",
                "object": ["urn:person:alice", "urn:person:bob", "urn:person:ghost"],
            },
        },
    )
    inline = get(client, f"{E}/urn:car:1", join="inline")["passengers"]
    assert [p["id"] for p in inline["entity"]] == ["urn:person:alice", "urn:person:bob"]
    simple = get(client, f"{E}/urn:car:1", join="inline", format="simplified")["passengers"]
    assert simple[0]["name"] == "alice" and simple[2] == "urn:person:ghost"


def test_a_list_relationship_gets_an_entity_list_in_order(client: TestClient) -> None:
    for city in ("antwerp", "rotterdam", "amsterdam"):
        client.post(E, json={"id": f"urn:city:{city}", "type": "City", "name": city})
    route = ["urn:city:rotterdam", "urn:city:antwerp", "urn:city:amsterdam"]
    client.post(
        E,
        json={
            "id": "urn:car:1",
            "type": "Vehicle",
            "route": {"type": "ListRelationship", "objectList": [{"object": o} for o in route]},
        },
    )
    inline = get(client, f"{E}/urn:car:1", join="inline")["route"]
    assert [c["id"] for c in inline["entityList"]] == route
    simple = get(client, f"{E}/urn:car:1", join="inline", format="simplified")["route"]
    assert [c["name"] for c in simple] == ["rotterdam", "antwerp", "amsterdam"]
    flat = get(client, f"{E}/urn:car:1", join="flat")
    assert [e["id"] for e in flat] == ["urn:car:1", *route]


def test_inline_join_does_not_follow_a_loop_back_to_an_entity_above(
    client: TestClient,
) -> None:
    city_graph(client)
    client.post(
        f"{E}/urn:city:paris/attrs",
        json={"hasLandmark": {"type": "Relationship", "object": "urn:building:1"}},
    )
    inline = get(client, B1, join="inline", joinLevel="3")
    paris = inline["locatedAt"]["entity"]
    assert paris["hasLandmark"] == {"type": "Relationship", "object": "urn:building:1"}
    assert paris["isInCountry"]["entity"]["id"] == "urn:country:fr"


def test_contained_by_ids_are_not_followed(client: TestClient) -> None:
    city_graph(client)
    inline = get(client, B1, join="inline", joinLevel="2", containedBy="urn:country:fr")
    assert "entity" in inline["locatedAt"]
    assert "entity" not in inline["locatedAt"]["entity"]["isInCountry"]
    flat = get(client, B1, join="flat", joinLevel="2", containedBy="urn:country:fr")
    assert [e["id"] for e in flat] == ["urn:building:1", "urn:city:paris"]


def test_flat_join_lists_each_linked_entity_once_after_the_matches(
    client: TestClient,
) -> None:
    city_graph(client)
    flat = get(client, E, type="Building", join="flat", joinLevel="2", options="keyValues")
    assert [e["id"] for e in flat] == [
        "urn:building:1",
        "urn:building:2",
        "urn:city:paris",
        "urn:country:fr",
    ]
    assert flat[0]["locatedAt"] == "urn:city:paris"  # flat leaves relationships as they are


def test_flat_join_is_an_array_even_with_nothing_linked(client: TestClient) -> None:
    client.post(E, json={"id": "urn:x:1", "type": "T", "name": "alone"})
    assert get(client, f"{E}/urn:x:1", join="flat") == [
        {"id": "urn:x:1", "type": "T", "name": {"type": "Property", "value": "alone"}}
    ]


def test_join_none_is_no_join(client: TestClient) -> None:
    city_graph(client)
    assert get(client, B1, join="@none") == get(client, B1)


def test_inline_join_on_a_query_nests_in_every_match(client: TestClient) -> None:
    city_graph(client)
    found = get(client, E, type="Building", join="inline")
    assert [b["locatedAt"]["entity"]["id"] for b in found] == ["urn:city:paris"] * 2


def test_post_query_joins_like_get(client: TestClient) -> None:
    city_graph(client)
    query = {
        "type": "Query",
        "entities": [{"type": "Building"}],
        "join": "inline",
        "joinLevel": 2,
        "pick": ["id", "locatedAt{name,isInCountry{name}}"],
    }
    response = client.post(QUERY, json=query)
    assert response.status_code == 200, response.text
    first = response.json()[0]
    assert set(first) == {"id", "locatedAt"}
    assert first["locatedAt"]["entity"]["isInCountry"]["entity"] == {
        "name": {"type": "Property", "value": "France"}
    }
    flat = client.post(QUERY, json={**query, "join": "flat", "containedBy": ["urn:country:fr"]})
    assert [e.get("id") for e in flat.json()] == ["urn:building:1", "urn:building:2", None]


def test_pick_reaches_into_linked_entities(client: TestClient) -> None:
    city_graph(client)
    picked = get(
        client, B1, join="inline", joinLevel="2", pick="id,locatedAt{name,isInCountry{id}}"
    )
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


def test_omit_reaches_into_linked_entities_and_top_level_omit_stays_on_top(
    client: TestClient,
) -> None:
    city_graph(client)
    omitted = get(client, B1, join="flat", omit="type,owner,locatedAt{name}")
    assert omitted[0] == {
        "id": "urn:building:1",
        "name": {"type": "Property", "value": "b1"},
        "locatedAt": {"type": "Relationship", "object": "urn:city:paris"},
    }
    assert omitted[1]["type"] == "City" and "name" not in omitted[1]


def test_a_relationship_projected_away_is_not_followed(client: TestClient) -> None:
    city_graph(client)
    flat = get(client, B1, join="flat", pick="id,name")
    assert flat == [{"id": "urn:building:1", "name": {"type": "Property", "value": "b1"}}]


def test_pick_and_omit_select_the_scope(client: TestClient) -> None:
    city_graph(client)
    paris = f"{E}/urn:city:paris"
    assert get(client, paris, pick="id,name") == {
        "id": "urn:city:paris",
        "name": {"type": "Property", "value": "Paris"},
    }
    assert get(client, paris, pick="scope") == {"scope": "/Europe/France"}
    assert "scope" not in get(client, paris, omit="scope")


def test_geojson_flat_join_is_a_feature_collection(client: TestClient) -> None:
    city_graph(client)
    response = client.get(B1, params={"join": "flat"}, headers={"Accept": "application/geo+json"})
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == ["urn:building:1", "urn:city:paris"]


def test_geojson_inline_join_is_a_feature_with_the_linked_entity(client: TestClient) -> None:
    city_graph(client)
    response = client.get(B1, params={"join": "inline"}, headers={"Accept": "application/geo+json"})
    body = response.json()
    assert body["type"] == "Feature"
    assert body["properties"]["locatedAt"]["entity"]["id"] == "urn:city:paris"


def test_json_ld_flat_join_gives_every_entity_the_context(client: TestClient) -> None:
    city_graph(client)
    response = client.get(B1, params={"join": "flat"}, headers={"Accept": "application/ld+json"})
    assert all("@context" in e for e in response.json())
    inline = client.get(B1, params={"join": "inline"}, headers={"Accept": "application/ld+json"})
    assert "@context" in inline.json() and "@context" not in inline.json()["locatedAt"]["entity"]


@pytest.mark.parametrize(
    "params",
    [
        {"join": "sideways"},
        {"join": "inline", "joinLevel": "0"},
        {"join": "inline", "joinLevel": "two"},
        {"pick": "locatedAt{name}"},
        {"join": "@none", "omit": "locatedAt{name}"},
        {"join": "inline", "pick": "locatedAt{isInCountry{name}}"},
        {"join": "inline", "containedBy": "not a uri"},
    ],
)
def test_bad_join_requests_are_bad_request_data(client: TestClient, params: dict[str, str]) -> None:
    city_graph(client)
    response = client.get(B1, params=params)
    assert response.status_code == 400, params
    assert response.json()["type"].endswith("BadRequestData")


def test_a_join_level_past_the_limit_is_too_complex(client: TestClient) -> None:
    city_graph(client)
    response = client.get(B1, params={"join": "inline", "joinLevel": "50"})
    assert response.status_code == 403
    assert response.json()["type"].endswith("TooComplexQuery")


def test_linked_entities_are_read_once_per_level(client: TestClient) -> None:
    """Never one read per Relationship: one get_many per joinLevel."""
    city_graph(client)
    for n in range(3, 30):
        client.post(
            E,
            json={
                "id": f"urn:building:{n}",
                "type": "Building",
                "locatedAt": {"type": "Relationship", "object": f"urn:city:{n}"},
            },
        )
        client.post(
            E,
            json={
                "id": f"urn:city:{n}",
                "type": "City",
                "isInCountry": {"type": "Relationship", "object": "urn:country:fr"},
            },
        )
    store = client.app.state.dalgu.store  # type: ignore[attr-defined]
    reads: list[int] = []
    real_get_many = store.get_many

    async def counted(tenant: str, ids: Any) -> Any:
        reads.append(len(ids))
        return await real_get_many(tenant, ids)

    store.get_many = counted
    try:
        flat = get(client, E, type="Building", join="flat", joinLevel="3", limit="100")
    finally:
        store.get_many = real_get_many
    assert len(flat) == 29 + 28 + 1
    assert len(reads) == 2  # cities, then France; the third level finds nothing to follow
