"""The GeoJSON representation's `geometry` and `geometryProperty` (clauses 4.5.16.1, 5.7.1.4,
5.7.2.4), on every store backend."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
GEO = {"Accept": "application/geo+json"}
G1 = f"{E}/urn:ngsi-ld:Gj:g1"


@pytest.fixture
def two_places(client: TestClient) -> TestClient:
    """A `location` of two instances: one of a dataset first, then the default one."""
    body = {
        "id": "urn:ngsi-ld:Gj:g1",
        "type": "Gj",
        "location": [
            {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [1, 1]},
                "datasetId": "urn:ngsi-ld:ds:a",
            },
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2, 2]}},
        ],
    }
    assert client.post(E, json=body).status_code == 201
    return client


@pytest.mark.parametrize("form", ["normalized", "concise", "keyValues"])
def test_geometry_of_several_instances_is_the_default_one(
    two_places: TestClient, form: str
) -> None:
    """Normalized and concise gave the first instance's geometry (the dataset's), keyValues
    the default one's: one entity, two geometries by format."""
    default = {"type": "Point", "coordinates": [2, 2]}
    params = {"format": form}
    assert two_places.get(G1, params=params, headers=GEO).json()["geometry"] == default
    found = two_places.get(E, params={"type": "Gj", **params}, headers=GEO).json()
    assert [f["geometry"] for f in found["features"]] == [default]
    chosen = {**params, "datasetId": "urn:ngsi-ld:ds:a"}
    picked = two_places.get(G1, params=chosen, headers=GEO).json()["geometry"]
    assert picked == {"type": "Point", "coordinates": [1, 1]}


@pytest.mark.parametrize("accept", [None, "application/json", "application/ld+json", "*/*"])
def test_geometry_property_without_geojson_accept_is_bad_request_data(
    two_places: TestClient, accept: str | None
) -> None:
    """It was left unread: a 200 with the entity (array) in JSON."""
    headers = {} if accept is None else {"Accept": accept}
    chosen = {"geometryProperty": "location"}
    for response in (
        two_places.get(G1, params=chosen, headers=headers),
        two_places.get(E, params={"type": "Gj", **chosen}, headers=headers),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["type"].endswith("/BadRequestData")
    assert two_places.get(G1, params=chosen, headers=GEO).status_code == 200
    assert two_places.get(E, params={"type": "Gj", **chosen}, headers=GEO).status_code == 200


def test_a_feature_whose_id_is_left_out_has_no_id_member(two_places: TestClient) -> None:
    """`pick`/`omit` leaving out the id gave `"id": null`, which RFC 7946 section 3.2 does not
    allow (a string or a number); the member is left out instead (cons-9)."""
    picked = two_places.get(G1, params={"pick": "location"}, headers=GEO)
    assert picked.status_code == 200, picked.text
    assert "id" not in picked.json()
    assert picked.json()["geometry"] == {"type": "Point", "coordinates": [2, 2]}
    listed = two_places.get(E, params={"type": "Gj", "omit": "id,type"}, headers=GEO)
    assert listed.status_code == 200, listed.text
    assert [f.get("id", "absent") for f in listed.json()["features"]] == ["absent"]
    whole = two_places.get(G1, headers=GEO)
    assert whole.json()["id"] == "urn:ngsi-ld:Gj:g1"
