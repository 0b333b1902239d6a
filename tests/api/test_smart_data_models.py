"""Shapes Smart Data Models examples use, from an outside round trip of 1,060 SDM example files
through both stores: positions with an altitude (a 500 on PostgreSQL, and a batch holding one
lost every entity), attribute types that are not strings (a 500), and concise arrays of plain
objects (refused, or unwrapped from their array)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
B = "/ngsi-ld/v1/entityOperations"


def _airport(n: int, coordinates: list[float]) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Airport:{n}",
        "type": "Airport",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": coordinates}},
    }


def test_positions_with_an_altitude_are_kept_and_found_on_the_map(client: TestClient) -> None:
    assert client.post(E, json=_airport(1, [17.939722, 59.354444, 14])).status_code == 201
    got = client.get(f"{E}/urn:ngsi-ld:Airport:1").json()
    assert got["location"]["value"]["coordinates"] == [17.939722, 59.354444, 14]
    # a batch with one such entity creates them all
    batch = [
        {"id": "urn:ngsi-ld:Airport:2", "type": "Airport"},
        _airport(3, [17.94, 59.35, 10000]),
    ]
    assert client.post(f"{B}/create", json=batch).status_code == 201
    line = {"type": "LineString", "coordinates": [[17.9, 59.3, 1], [17.95, 59.35, 2]]}
    patched = client.patch(
        f"{E}/urn:ngsi-ld:Airport:2/attrs",
        json={"location": {"type": "GeoProperty", "value": line}},
    )
    assert patched.status_code == 204
    near = client.get(
        E,
        params={
            "type": "Airport",
            "georel": "near;maxDistance==5000",
            "geometry": "Point",
            "coordinates": "[17.94,59.35]",
        },
    )
    assert sorted(e["id"] for e in near.json()) == [f"urn:ngsi-ld:Airport:{n}" for n in (1, 2, 3)]
    # a query geometry may carry altitudes too
    box = "[[[17.91,59.31,0],[18.0,59.31,0],[18.0,59.4,0],[17.91,59.4,0],[17.91,59.31,0]]]"
    within = client.get(
        E, params={"type": "Airport", "georel": "within", "geometry": "Polygon", "coordinates": box}
    )
    assert within.status_code == 200, within.text
    assert sorted(e["id"] for e in within.json()) == [
        "urn:ngsi-ld:Airport:1",
        "urn:ngsi-ld:Airport:3",
    ]


def test_an_attribute_type_that_is_not_a_string_is_400(client: TestClient) -> None:
    for bad in (["Property"], {"a": 1}):
        body = {"id": "urn:ngsi-ld:T:1", "type": "T", "x": {"type": bad, "value": 1}}
        answer = client.post(E, json=body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"].endswith("BadRequestData")
    # a Property whose value is an object with a list as its `type` is a value like any other
    odd = {"type": "Property", "value": {"type": ["a"], "coordinates": [1]}}
    assert client.post(E, json={"id": "urn:ngsi-ld:T:2", "type": "T", "x": odd}).status_code == 201
    assert client.get(f"{E}/urn:ngsi-ld:T:2").json()["x"]["value"] == odd["value"]
    geo = client.get(f"{E}/urn:ngsi-ld:T:2", headers={"Accept": "application/geo+json"})
    assert geo.status_code == 200 and geo.json()["geometry"] is None


def test_a_concise_array_of_plain_objects_is_one_value(client: TestClient) -> None:
    """Clause 4.5.2.3: objects with neither a type nor a value member are not attribute
    instances; the array is the Property's value, kept as an array."""
    hours = [
        {"opens": "10:00", "closes": "19:00", "dayOfWeek": "Monday"},
        {"opens": "10:00", "closes": "14:00", "dayOfWeek": "Saturday"},
    ]
    source = [{"application": "urn:ngsi-ld:AgriApp:1", "applicationEntityId": "app:farm1"}]
    body = {"id": "urn:ngsi-ld:Museum:1", "type": "Museum", "hours": hours, "source": source}
    assert client.post(E, json=body).status_code == 201
    simple = client.get(f"{E}/urn:ngsi-ld:Museum:1", params={"options": "keyValues"}).json()
    assert simple["hours"] == hours and simple["source"] == source
    normalized = client.get(f"{E}/urn:ngsi-ld:Museum:1").json()
    assert normalized["hours"] == {"type": "Property", "value": hours}
    # instances stay instances; an array mixing both is refused
    both = [{"value": 1, "datasetId": "urn:ngsi-ld:Dataset:a"}, {"value": 2}]
    multi = {"id": "urn:ngsi-ld:Museum:2", "type": "Museum", "visitors": both}
    assert client.post(E, json=multi).status_code == 201
    assert len(client.get(f"{E}/urn:ngsi-ld:Museum:2").json()["visitors"]) == 2
    mixed = {"id": "urn:ngsi-ld:Museum:3", "type": "Museum", "x": [{"value": 1}, {"a": 2}]}
    answer = client.post(E, json=mixed)
    assert answer.status_code == 400 and "mixing" in answer.json()["detail"]


def test_observed_at_takes_a_comma_and_refuses_reduced_forms(client: TestClient) -> None:
    """Clause 4.6.3: "In requests, also a comma instead of a decimal point may be used";
    "reduced representations are not permitted" (AgriGreenhouse's `2016-08-22T19:20Z` was
    kept, and no `q` could name it)."""
    comma = {"type": "Property", "value": 1, "observedAt": "2016-08-22T19:20:00,5Z"}
    body = {"id": "urn:ngsi-ld:Greenhouse:1", "type": "Greenhouse", "co2": comma}
    assert client.post(E, json=body).status_code == 201
    kept = client.get(f"{E}/urn:ngsi-ld:Greenhouse:1").json()["co2"]["observedAt"]
    assert kept == "2016-08-22T19:20:00.5Z"
    found = client.get(
        E, params={"type": "Greenhouse", "q": "co2.observedAt>=2016-08-22T19:20:00Z"}
    ).json()
    assert [e["id"] for e in found] == ["urn:ngsi-ld:Greenhouse:1"]
    reduced = {"type": "Property", "value": 1, "observedAt": "2016-08-22T19:20Z"}
    body = {"id": "urn:ngsi-ld:Greenhouse:2", "type": "Greenhouse", "co2": reduced}
    answer = client.post(E, json=body)
    assert answer.status_code == 400 and "4.6.3" in answer.json()["detail"]
