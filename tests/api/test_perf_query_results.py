"""Pages, counts and orders of the query shapes whose plans changed in session 39 (perf-1..4),
against an oracle, on both stores: several types whose ids interleave in the write order and
each make one band of the id order, entities of two types, points inside, outside and on the
edges of the query's polygons, small square polygons, and an attribute's long history. The
plans differ with how many entities a shape holds (an index's candidates, or a walk in id
order), so the city is large enough for both."""

from __future__ import annotations

import json
import random
from typing import Any

import shapely
from starlette.testclient import TestClient

from dalgu.query.geo import haversine

E = "/ngsi-ld/v1/entities"
TYPES = ("WeatherObserved", "ParkingSpot", "Streetlight", "AirQualityObserved", "OffStreetParking")
LETTERS = {"WeatherObserved": "w", "ParkingSpot": "p", "Streetlight": "s"}
RECTANGLE = [[[128.5, 35.8], [128.6, 35.8], [128.6, 35.9], [128.5, 35.9], [128.5, 35.8]]]
CITY = [[[128.4, 35.7], [128.8, 35.7], [128.8, 36.0], [128.4, 36.0], [128.4, 35.7]]]
PENTAGON = [
    [[128.4, 35.7], [128.8, 35.7], [128.8, 36.0], [128.6, 36.1], [128.4, 36.0], [128.4, 35.7]]
]
TRIANGLE = [[[128.45, 35.75], [128.7, 35.75], [128.45, 35.95], [128.45, 35.75]]]
# on the rectangle's edges and corners, and inside it
EDGES = [
    (128.5, 35.85),
    (128.6, 35.85),
    (128.55, 35.8),
    (128.55, 35.9),
    (128.5, 35.8),
    (128.55, 35.85),
]


def city(n: int) -> list[dict[str, Any]]:
    """`n` entities of five types (ids interleaved), every twentieth also of a second type,
    and the edge points."""
    entities = []
    for i in range(n):
        r = random.Random(i)
        k = i % 10
        t = TYPES[0] if k < 3 else TYPES[1] if k < 6 else TYPES[2] if k < 8 else TYPES[k - 5]
        x, y = round(128.35 + r.random() * 0.5, 6), round(35.65 + r.random() * 0.4, 6)
        geometry: dict[str, Any] = {"type": "Point", "coordinates": [x, y]}
        if t == "OffStreetParking":
            d = 0.0005 + r.random() * 0.02
            ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
            geometry = {"type": "Polygon", "coordinates": [ring]}
        entity: dict[str, Any] = {
            "id": f"urn:ngsi-ld:{t}:{t[0].lower()}{i:07d}",
            "type": t if i % 20 else [t, "Both"],
            "level": {"type": "Property", "value": r.randint(0, 40)},
            "location": {"type": "GeoProperty", "value": geometry},
        }
        entities.append(entity)
    for j, (x, y) in enumerate(EDGES):
        entities.append(
            {
                "id": f"urn:ngsi-ld:ParkingSpot:edge{j}",
                "type": "ParkingSpot",
                "level": {"type": "Property", "value": 1},
                "location": {
                    "type": "GeoProperty",
                    "value": {"type": "Point", "coordinates": [x, y]},
                },
            }
        )
    return entities


def load(client: TestClient, entities: list[dict[str, Any]]) -> None:
    for start in range(0, len(entities), 500):
        answer = client.post(
            "/ngsi-ld/v1/entityOperations/upsert",
            content=json.dumps(entities[start : start + 500]),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code in (201, 204), answer.text


def types_of(entity: dict[str, Any]) -> list[str]:
    t = entity["type"]
    return t if isinstance(t, list) else [t]


def ask(client: TestClient, params: dict[str, Any]) -> tuple[list[str], int | None]:
    answer = client.get(E, params=params)
    assert answer.status_code == 200, answer.text
    count = answer.headers.get("NGSILD-Results-Count")
    return [e["id"] for e in answer.json()], None if count is None else int(count)


def check(
    client: TestClient, params: dict[str, Any], matching: list[str], limit: int, offset: int = 0
) -> None:
    """The page is the matches' ids in order from `offset`, the count all of them."""
    expected = sorted(matching)
    found, count = ask(client, {**params, "limit": limit, "offset": offset, "count": "true"})
    assert found == expected[offset : offset + limit], params
    assert count == len(expected), params


N = 1500  # a page of 100 reads the type index for under 387 entities


def test_pages_and_counts_by_type_are_the_type_s_entities_in_id_order(client: TestClient) -> None:
    entities = city(N)
    load(client, entities)
    for t in (*TYPES, "Both", "Nothing"):
        mine = [e["id"] for e in entities if t in types_of(e)]
        for limit, offset in ((1, 0), (7, 3), (100, 0), (1000, 0), (50, 400)):
            check(client, {"type": t}, mine, limit, offset)
    both = [e["id"] for e in entities if {"Streetlight", "ParkingSpot"} & set(types_of(e))]
    check(client, {"type": "Streetlight,ParkingSpot"}, both, 60, 200)
    and_both = [e["id"] for e in entities if {"WeatherObserved", "Both"} <= set(types_of(e))]
    check(client, {"type": "WeatherObserved;Both"}, and_both, 20)
    warm = [
        e["id"] for e in entities if "WeatherObserved" in types_of(e) and e["level"]["value"] > 30
    ]
    check(client, {"type": "WeatherObserved", "q": "level>30"}, warm, 25, 5)
    # the next page after an id (keyset pages)
    mine = sorted(e["id"] for e in entities if "ParkingSpot" in types_of(e))
    answer = client.get(E, params={"type": "ParkingSpot", "limit": 5, "after": mine[100]})
    if answer.status_code == 200:  # where the API offers `after`
        assert [e["id"] for e in answer.json()] == mine[101:106]


def shape_of(entity: dict[str, Any]) -> Any:
    return shapely.geometry.shape(entity["location"]["value"])


def test_within_and_intersects_give_the_oracle_s_pages_and_counts(client: TestClient) -> None:
    entities = city(N)
    load(client, entities)
    for coordinates in (CITY, RECTANGLE, PENTAGON, TRIANGLE):
        polygon = shapely.Polygon(coordinates[0])
        for georel in ("within", "intersects"):
            test = polygon.contains if georel == "within" else polygon.intersects
            inside = [e for e in entities if test(shape_of(e))]
            geo = {"georel": georel, "geometry": "Polygon", "coordinates": json.dumps(coordinates)}
            check(client, geo, [e["id"] for e in inside], 100)
            check(client, geo, [e["id"] for e in inside], 13, 40)
            for t in ("ParkingSpot", "AirQualityObserved", "OffStreetParking", "Both"):
                mine = [e["id"] for e in inside if t in types_of(e)]
                check(client, {**geo, "type": t}, mine, 20)
                check(client, {**geo, "type": t}, mine, 0)
    # the rectangle's edges: on them is not within it, but intersects it
    edge = {"geometry": "Polygon", "coordinates": json.dumps(RECTANGLE), "idPattern": "edge"}
    within, _ = ask(client, {**edge, "georel": "within", "limit": 100})
    touching, _ = ask(client, {**edge, "georel": "intersects", "limit": 100})
    assert within == ["urn:ngsi-ld:ParkingSpot:edge5"]
    assert touching == [f"urn:ngsi-ld:ParkingSpot:edge{j}" for j in range(6)]


def test_near_within_a_wide_radius_gives_the_oracle_s_page_and_count(client: TestClient) -> None:
    entities = city(N)
    load(client, entities)
    x, y = 128.6, 35.87
    spots = [e for e in entities if "ParkingSpot" in types_of(e)]
    distances = sorted(haversine(*shape_of(e).coords[0], x, y) for e in spots)
    for share in (0.2, 0.9):
        # a radius midway between two spots' distances 1% apart: the stores measure on the
        # sphere (SQLite) and the spheroid (PostGIS), up to ~0.5% apart
        at = int(len(distances) * share)
        at = next(
            i for i in range(at, len(distances) - 1) if distances[i + 1] > distances[i] * 1.01
        )
        radius = round((distances[at] + distances[at + 1]) / 2)
        reach = [e["id"] for e in spots if haversine(*shape_of(e).coords[0], x, y) <= radius]
        geo = {
            "georel": f"near;maxDistance=={radius}",
            "geometry": "Point",
            "coordinates": json.dumps([x, y]),
            "type": "ParkingSpot",
        }
        check(client, geo, reach, 10)
        check(client, geo, reach, 10, 30)


def test_last_instances_of_a_long_history_are_its_last(client: TestClient) -> None:
    light = "urn:ngsi-ld:Streetlight:s1"
    instances = [
        {
            "type": "Property",
            "value": i,
            "observedAt": f"2026-11-{1 + i // 1440:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z",
            **({"datasetId": "urn:ngsi-ld:Dataset:b"} if i % 3 == 0 else {}),
        }
        for i in range(1500)
    ]
    first = {"id": light, "type": "Streetlight", "level": instances[:500], "power": instances[:2]}
    answer = client.post("/ngsi-ld/v1/temporal/entities", json=first)
    assert answer.status_code == 201, answer.text
    for start in (500, 1000):
        answer = client.post(
            f"/ngsi-ld/v1/temporal/entities/{light}/attrs",
            json={"level": instances[start : start + 500], "power": instances[start : start + 2]},
        )
        assert answer.status_code == 204, answer.text
    url = f"/ngsi-ld/v1/temporal/entities/{light}"

    def values(params: dict[str, Any]) -> dict[str, list[int]]:
        answer = client.get(url, params=params)
        assert answer.status_code in (200, 206), answer.text
        found = answer.json()
        return {
            name: [
                i["value"]
                for i in (found[name] if isinstance(found[name], list) else [found[name]])
            ]
            for name in ("level", "power")
            if name in found
        }

    assert values({"attrs": "level", "lastN": 1}) == {"level": [1499]}
    assert values({"lastN": 3}) == {"level": [1497, 1498, 1499], "power": [501, 1000, 1001]}
    before = {"lastN": 2, "timerel": "before", "timeAt": "2026-11-01T10:00:00Z"}
    assert values({**before, "attrs": "level"}) == {"level": [598, 599]}
    oldest = {"attrs": "level", "timerel": "after", "timeAt": "2026-11-01T00:00:00Z"}
    assert values(oldest)["level"][:2] == [0, 1]  # the first instances, without lastN
    datasets = {"lastN": 2, "attrs": "level", "datasetId": "urn:ngsi-ld:Dataset:b"}
    assert values(datasets) == {"level": [1494, 1497]}


def test_temporal_pages_ordered_by_a_value_are_the_oracle_s(client: TestClient) -> None:
    """Ordered by what the entities hold now (many ties), with entities of another type that
    hold the highest values: a page from the value index's candidates, or from every match
    when those do not fill it."""
    cars = [
        {
            "id": f"urn:ngsi-ld:Car:c{i:04d}",
            "type": "Car",
            "level": {"type": "Property", "value": i % 7},
        }
        for i in range(120)
    ]
    buses = [
        {
            "id": f"urn:ngsi-ld:Bus:b{i:04d}",
            "type": "Bus",
            "level": {"type": "Property", "value": 100 + i},
        }
        for i in range(30)
    ]
    load(client, cars + buses)
    for way, descending in (("", False), (";desc", True)):
        ranked = sorted(
            cars,
            key=lambda c: (-c["level"]["value"] if descending else c["level"]["value"], c["id"]),
        )
        for limit, offset in ((5, 0), (20, 10), (50, 100)):
            answer = client.get(
                "/ngsi-ld/v1/temporal/entities",
                params={
                    "type": "Car",
                    "timerel": "after",
                    "timeAt": "2020-01-01T00:00:00Z",
                    "timeproperty": "modifiedAt",
                    "orderBy": f"level{way}",
                    "attrs": "level",
                    "lastN": 1,
                    "limit": limit,
                    "offset": offset,
                },
            )
            assert answer.status_code in (200, 206), answer.text
            expected = [c["id"] for c in ranked[offset : offset + limit]]
            assert [e["id"] for e in answer.json()] == expected, (way, limit, offset)
