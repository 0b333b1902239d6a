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
