"""Locations from devices: `geo:point` is "lon,lat" in the order sent, as the IoT Agent in
NGSI-LD mode reads it (`NGSIUtils.getLngLats`), so the FIWARE tutorials' devices, which send
longitude first, land where they are and geo-queries find them (tutorials report #4)."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
FARM = {"fiware-service": "farm", "fiware-servicepath": "/"}
TENANT = {"NGSILD-Tenant": "farm"}
GROUP = {  # the IoT-Agent tutorial's step 2
    "apikey": "k-farm",
    "resource": "/iot/d",
    "entity_type": "Device",
    "attributes": [
        {"object_id": "bpm", "name": "heartRate", "type": "Number"},
        {"object_id": "gps", "name": "location", "type": "geo:point"},
    ],
}


def test_a_geo_point_is_longitude_first_and_found_near_where_it_is(client: TestClient) -> None:
    assert client.post("/iot/services", json={"services": [GROUP]}, headers=FARM).status_code == 201
    sent = client.post("/iot/d?k=k-farm&i=animal005", content=b"bpm|61|gps|13.36,52.51")
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:Device:animal005", headers=TENANT).json()
    assert entity["location"]["value"] == {"type": "Point", "coordinates": [13.36, 52.51]}
    near = {
        "type": "Device",
        "georel": "near;maxDistance==2000",
        "geometry": "Point",
        "coordinates": "[13.364,52.52]",
    }
    found = client.get(E, params=near, headers=TENANT)
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Device:animal005"]


def test_a_point_sent_latitude_first_off_the_globe_is_left_out(client: TestClient) -> None:
    assert client.post("/iot/services", json={"services": [GROUP]}, headers=FARM).status_code == 201
    sent = client.post("/iot/d?k=k-farm&i=cow1", content=b"gps|35.87,128.6")  # lat,lon: 128.6
    assert sent.status_code == 200, sent.text  # the measure is left out: nothing to write
    assert client.get(f"{E}/urn:ngsi-ld:Device:cow1", headers=TENANT).status_code == 404


def test_a_static_geoproperty_given_as_a_coordinate_array_is_kept(client: TestClient) -> None:
    """The farm tutorials' filling sensors (`provision-devices`): the agents' conversion reads
    an array as a text, in the order given (tutorials report #10)."""
    group = {"apikey": "k-fill", "resource": "/iot/d", "entity_type": "Device"}
    assert client.post("/iot/services", json={"services": [group]}, headers=FARM).status_code == 201
    location = {"name": "location", "type": "GeoProperty", "value": [13.3505, 52.5144]}
    device = {"device_id": "f1", "apikey": "k-fill", "static_attributes": [location]}
    created = client.post("/iot/devices", json={"devices": [device]}, headers=FARM)
    assert created.status_code == 201, created.text
    assert client.post("/iot/d?k=k-fill&i=f1", content=b"f|0.87").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:Device:f1?options=keyValues", headers=TENANT).json()
    assert entity["location"] == {"type": "Point", "coordinates": [13.3505, 52.5144]}
    assert entity["f"] == 0.87


SHAPES = {  # the agents' other geo types (`convertNGSIv2ToLD`): the numbers paired, lon first
    "apikey": "k-shapes",
    "resource": "/iot/d",
    "entity_type": "Road",
    "attributes": [
        {"object_id": "r", "name": "route", "type": "geo:linestring"},
        {"object_id": "a", "name": "area", "type": "geo:polygon"},
        {"object_id": "s", "name": "stops", "type": "geo:multipoint"},
        {"object_id": "z", "name": "zones", "type": "geo:multipolygon"},
    ],
}


def test_lines_polygons_and_multipoints_from_text_are_geoproperties(client: TestClient) -> None:
    created = client.post("/iot/services", json={"services": [SHAPES]}, headers=FARM)
    assert created.status_code == 201
    ring = "128.6,35.8,128.7,35.8,128.7,35.9,128.6,35.8"
    body = f"r|128.6,35.8,128.7,35.9|a|{ring}|s|128.6,35.8,128.61,35.81".encode()
    assert client.post("/iot/d?k=k-shapes&i=road1", content=body).status_code == 200
    road = client.get(f"{E}/urn:ngsi-ld:Road:road1", headers=TENANT).json()
    assert road["route"]["type"] == "GeoProperty"
    assert road["route"]["value"] == {
        "type": "LineString",
        "coordinates": [[128.6, 35.8], [128.7, 35.9]],
    }
    assert road["area"]["type"] == "GeoProperty"
    assert road["area"]["value"] == {
        "type": "Polygon",
        "coordinates": [[[128.6, 35.8], [128.7, 35.8], [128.7, 35.9], [128.6, 35.8]]],
    }
    assert road["stops"]["value"]["type"] == "MultiPoint"
    inside = {"type": "Road", "georel": "intersects", "geometry": "Point"}
    inside |= {"coordinates": "[128.68,35.82]", "geoproperty": "area"}
    found = client.get(E, params=inside, headers=TENANT).json()
    assert [e["id"] for e in found] == ["urn:ngsi-ld:Road:road1"]


def test_a_multipolygon_is_taken_as_geojson_and_an_open_ring_is_left_out(
    client: TestClient,
) -> None:
    groups = [SHAPES, SHAPES | {"resource": "/iot/json"}]
    assert client.post("/iot/services", json={"services": groups}, headers=FARM).status_code == 201
    square = [[[128.6, 35.8], [128.7, 35.8], [128.7, 35.9], [128.6, 35.8]]]
    zones = {"type": "MultiPolygon", "coordinates": [square]}
    sent = client.post("/iot/json?k=k-shapes&i=road2", json={"z": zones})
    assert sent.status_code == 200, sent.text
    road = client.get(f"{E}/urn:ngsi-ld:Road:road2?options=keyValues", headers=TENANT).json()
    assert road["zones"] == zones
    unclosed = b"a|128.6,35.8,128.7,35.8,128.7,36"
    open_ring = client.post("/iot/d?k=k-shapes&i=road3", content=unclosed)
    assert open_ring.status_code == 200, open_ring.text
    flat = client.post("/iot/d?k=k-shapes&i=road3", content=b"z|128.6,35.8,128.7,35.8")
    assert flat.status_code == 200, flat.text
    assert client.get(f"{E}/urn:ngsi-ld:Road:road3", headers=TENANT).status_code == 404
