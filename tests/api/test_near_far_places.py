"""`near` across the antimeridian and by the poles (clause 4.10: a distance in metres on the
sphere, not a box of degrees). The SQLite store's R*Tree box stopped at ±180° and was too
narrow in longitude near a pole, so a zone 21 m away across the antimeridian, or 12 m away
over the pole, was not found; PostgreSQL found them (an outside test, round 6)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
PLACES = {"fiji": [179.9999, -17.0], "north": [0.0, 89.9999], "south": [45.0, -89.9995]}


@pytest.mark.parametrize(
    ("point", "metres", "found"),
    [
        ([-179.9999, -17.0], 1000, ["fiji"]),  # ~21 m, across the antimeridian
        ([179.9999, -17.0], 1000, ["fiji"]),
        ([120.0, 89.99999], 2000, ["north"]),  # ~12 m, over the pole
        ([180.0, 89.99], 5000, ["north"]),  # ~1.1 km
        ([-135.0, -89.9999], 1000, ["south"]),
        ([-179.9, -17.0], 1000, []),  # ~10.6 km: too far
    ],
)
def test_near_finds_places_across_the_antimeridian_and_the_poles(
    client: TestClient, point: list[float], metres: int, found: list[str]
) -> None:
    for name, coordinates in PLACES.items():
        zone = {
            "id": f"urn:ngsi-ld:Zone:{name}",
            "type": "Zone",
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": coordinates},
            },
        }
        assert client.post(E, json=zone).status_code == 201
    query = {
        "type": "Zone",
        "georel": f"near;maxDistance=={metres}",
        "geometry": "Point",
        "coordinates": f"[{point[0]},{point[1]}]",
    }
    answer = client.get(E, params=query)
    assert answer.status_code == 200, answer.text
    assert sorted(e["id"].rsplit(":", 1)[1] for e in answer.json()) == found


SHAPES = {
    # 0.02° of longitude (~2.2 km) west of the query point, across the antimeridian
    "dateline": {
        "type": "Polygon",
        "coordinates": [[[179.0, 0.0], [179.99, 0.0], [179.99, 1.0], [179.0, 1.0], [179.0, 0.0]]],
    },
    # ~293 km from (-3.77, 39.262) on the sphere (295 km on the WGS 84 ellipsoid)
    "road": {"type": "LineString", "coordinates": [[0.4222, 38.4789], [-1.1895, 41.314]]},
}


@pytest.mark.parametrize(
    ("point", "georel", "found"),
    [
        ([-179.99, 0.5], "near;maxDistance==5000", ["dateline"]),
        ([-179.99, 0.5], "near;minDistance==5000", ["road"]),
        ([-3.77, 39.262], "near;maxDistance==300000", ["road"]),
        ([-3.77, 39.262], "near;maxDistance==290000", []),
    ],
)
def test_near_measures_lines_and_polygons_to_their_nearest_point(
    client: TestClient, point: list[float], georel: str, found: list[str]
) -> None:
    """The SQLite store found the nearest points in degrees before measuring: a polygon just
    across the antimeridian was measured from its far side (112 km for 2.2 km), a line at 40°
    of latitude 2-3 % too far, and the two stores answered differently (an outside test)."""
    for name, geometry in SHAPES.items():
        zone = {
            "id": f"urn:ngsi-ld:Zone:{name}",
            "type": "Zone",
            "location": {"type": "GeoProperty", "value": geometry},
        }
        assert client.post(E, json=zone).status_code == 201
    query = {
        "type": "Zone",
        "georel": georel,
        "geometry": "Point",
        "coordinates": f"[{point[0]},{point[1]}]",
    }
    answer = client.get(E, params=query)
    assert answer.status_code == 200, answer.text
    assert sorted(e["id"].rsplit(":", 1)[1] for e in answer.json()) == found


def test_near_measures_on_the_sphere_on_both_stores(client: TestClient) -> None:
    """Both stores measure `near` on the sphere of the mean Earth radius, for entities and
    their history: PostgreSQL measured on the WGS 84 ellipsoid, up to 0.5 % longer north-south
    at the equator, and found points 1,000.75 m away on the sphere within 1,000 m (cons-10)."""
    offsets = [0.00895, 0.00897, 0.00899, 0.00900, 0.00901, 0.00903]
    batch = [
        {
            "id": f"urn:ngsi-ld:Dm:m{n}",
            "type": "Dm",
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [10, offset]},
                "observedAt": "2026-12-08T00:00:00Z",
            },
        }
        for n, offset in enumerate(offsets)
    ]
    assert client.post("/ngsi-ld/v1/entityOperations/create", json=batch).status_code == 201
    near = {"type": "Dm", "geometry": "Point", "coordinates": "[10,0]"}
    inside = ["urn:ngsi-ld:Dm:m0", "urn:ngsi-ld:Dm:m1", "urn:ngsi-ld:Dm:m2"]  # ≤ 999.64 m
    found = client.get(E, params={**near, "georel": "near;maxDistance==1000"})
    assert sorted(e["id"] for e in found.json()) == inside
    far = client.get(E, params={**near, "georel": "near;minDistance==1000"})
    assert sorted(e["id"] for e in far.json()) == [e["id"] for e in batch[3:]]
    history = client.get(
        "/ngsi-ld/v1/temporal/entities",
        params={
            **near,
            "georel": "near;maxDistance==1000",
            "timerel": "after",
            "timeAt": "2026-12-01T00:00:00Z",
        },
    )
    assert history.status_code == 200, history.text
    assert sorted(e["id"] for e in history.json()) == inside


STRAIGHT = [[9, 49.9999], [11.5, 49.9999]]  # 11 m south of the points, straight in lon/lat
POINTS = {"e1": [10, 50], "e2": [10.001, 50], "e3": [11, 50]}


def _zones(client: TestClient, shapes: dict[str, dict[str, object]]) -> None:
    for name, geometry in shapes.items():
        zone = {
            "id": f"urn:ngsi-ld:Zone:{name}",
            "type": "Zone",
            "location": {"type": "GeoProperty", "value": geometry},
        }
        assert client.post(E, json=zone).status_code == 201


def _near(client: TestClient, georel: str, geometry: str, coordinates: object) -> list[str]:
    query = {"type": "Zone", "georel": georel, "geometry": geometry, "coordinates": coordinates}
    answer = client.get(E, params={k: str(v).replace(" ", "") for k, v in query.items()})
    assert answer.status_code == 200, answer.text
    return sorted(e["id"].rsplit(":", 1)[1] for e in answer.json())


@pytest.mark.parametrize(
    ("georel", "found"),
    [("near;maxDistance==100", ["e1", "e2", "e3"]), ("near;minDistance==100", [])],
)
def test_near_a_line_measures_it_straight_in_lon_lat(
    client: TestClient, georel: str, found: list[str]
) -> None:
    """RFC 7946 section 3.1.1: a line is straight in lon/lat, as within and intersects take
    it. PostgreSQL measured to the great circle through its ends (~700 m north of the points
    at 10° E) and answered the opposite of SQLite (an outside test, cons-3)."""
    _zones(client, {n: {"type": "Point", "coordinates": c} for n, c in POINTS.items()})
    assert _near(client, georel, "LineString", STRAIGHT) == found
    edge = [[*STRAIGHT, [11.5, 52], [9, 52], STRAIGHT[0]]]
    assert _near(client, "within", "Polygon", edge) == ["e1", "e2", "e3"]


@pytest.mark.parametrize(
    ("georel", "found"),
    [("near;maxDistance==100", ["l1", "p1"]), ("near;minDistance==100", [])],
)
def test_near_from_a_line_entity_measures_it_straight_in_lon_lat(
    client: TestClient, georel: str, found: list[str]
) -> None:
    """The same with the line stored: PostgreSQL found the polygon with that edge, not the
    line (cons-3). The temporal API's `near` measures alike."""
    north = [[9, 50.0001], [11.5, 50.0001]]
    polygon = {"type": "Polygon", "coordinates": [[*north, [11.5, 52], [9, 52], north[0]]]}
    _zones(client, {"l1": {"type": "LineString", "coordinates": north}, "p1": polygon})
    assert _near(client, georel, "Point", [10.25, 50]) == found
    since = {"timerel": "after", "timeAt": "2000-01-01T00:00:00Z", "timeproperty": "createdAt"}
    query = {"type": "Zone", "georel": georel, "geometry": "Point", "coordinates": "[10.25,50]"}
    answer = client.get("/ngsi-ld/v1/temporal/entities", params={**query, **since})
    assert answer.status_code == 200, answer.text
    assert sorted(e["id"].rsplit(":", 1)[1] for e in answer.json()) == found
