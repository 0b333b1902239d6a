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


def test_a_point_sent_latitude_first_off_the_globe_is_refused(client: TestClient) -> None:
    assert client.post("/iot/services", json={"services": [GROUP]}, headers=FARM).status_code == 201
    sent = client.post("/iot/d?k=k-farm&i=cow1", content=b"gps|35.87,128.6")  # lat,lon: 128.6
    assert sent.status_code == 400 and "lon,lat" in sent.json()["detail"]
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
    assert entity["f"] == "0.87"
