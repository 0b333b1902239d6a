"""GeoJSON inside published values (a Feature, a FeatureCollection, a GeometryCollection, a
`bbox` at any depth) never carries exact coordinates into a download, in any format, on both
stores (RFC 7946 §5: a `bbox` holds coordinates as a geometry does)."""

from __future__ import annotations

import io
from typing import Any

import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from dalgu.opendata.policy import scrub, snap
from tests.opendata.conftest import TOKEN

EXACT = (128.6088888, 35.8788888)
ANOTHER = (128.6011111, 35.8711111)
GRID = 1000.0


def _feature() -> dict[str, Any]:
    lon, lat = EXACT
    return {
        "type": "Feature",
        "bbox": [lon, lat, lon, lat],
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {},
    }


def _collection() -> dict[str, Any]:
    lon, lat = ANOTHER
    inner = {**_feature(), "bbox": [lon, lat, lon + 1e-7, lat + 1e-7]}
    return {"type": "FeatureCollection", "bbox": [lon, lat, lon, lat], "features": [inner]}


def _exact_texts() -> list[bytes]:
    return [repr(c).encode() for c in (*EXACT, *ANOTHER)]


@pytest.mark.parametrize("extension", ["csv", "geojson", "parquet"])
def test_a_bbox_of_a_feature_or_collection_in_a_value_is_not_published(
    portal_client: TestClient, extension: str
) -> None:
    entity = {
        "id": "urn:ngsi-ld:GeoT:1",
        "type": "GeoT",
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [128.6, 35.87]},
        },
        "p3": {"type": "Property", "value": _feature()},
        "p4": {"type": "Property", "value": _collection()},
    }
    response = portal_client.post("/ngsi-ld/v1/entities", json=entity)
    assert response.status_code == 201, response.text
    response = portal_client.post(
        "/opendata/api/3/action/package_create",
        json={
            "name": "geot",
            "entity_type": "GeoT",
            "attributes": ["p3", "p4"],
            "geometry_attribute": "location",
            "grid_metres": GRID,
        },
        headers={"Authorization": TOKEN},
    )
    assert response.status_code == 200, response.text
    response = portal_client.get(f"/opendata/dataset/geot/download/geot.{extension}")
    assert response.status_code == 200, response.text
    body = response.content
    if extension == "parquet":  # compressed pages: read the values back
        body = str(pq.read_table(io.BytesIO(body)).to_pylist()).encode()
    for exact in _exact_texts():
        assert exact not in body, (exact, body)
    assert b"bbox" not in body


def test_scrub_drops_bbox_members_at_any_depth() -> None:
    scrubbed = scrub({"a": [{"b": _collection()}], "f": _feature()}, GRID)
    assert "bbox" not in str(scrubbed)
    assert scrubbed["f"]["geometry"] == {"type": "Point", "coordinates": list(snap(*EXACT, GRID))}
    assert scrubbed["a"][0]["b"]["features"][0]["geometry"]["type"] == "Point"


def test_a_geometry_collection_is_replaced_by_its_snapped_centroid() -> None:
    collection = {
        "type": "GeometryCollection",
        "geometries": [
            {"type": "Point", "coordinates": [128.60, 35.87]},
            {"type": "Point", "coordinates": [128.62, 35.87]},
        ],
    }
    point = {"type": "Point", "coordinates": list(snap(128.61, 35.87, GRID))}
    assert scrub({"v": collection}, GRID) == {"v": point}


def test_a_geometry_with_a_lower_case_type_is_snapped_too() -> None:
    lon, lat = EXACT
    scrubbed = scrub({"type": "point", "coordinates": [lon, lat]}, GRID)
    assert scrubbed == {"type": "Point", "coordinates": list(snap(lon, lat, GRID))}
