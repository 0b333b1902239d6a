"""Discover Context Source Registrations, GET /csourceRegistrations (clauses 5.10.2, 5.12,
6.8.3.2), on every store backend."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.registrations.common import R, hosted_link, problem_type, registration


def building(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:ContextSourceRegistration:b{n}",
        "type": "ContextSourceRegistration",
        "information": [
            {"entities": [{"type": "Building"}], "propertyNames": ["name"]},
        ],
        "endpoint": "http://b.example.org",
        **extra,
    }


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["id"].rsplit(":", 1)[-1] for r in response.json()]


@pytest.fixture
def some(client: TestClient) -> TestClient:
    """Registrations 1 (Vehicle A456 and OffStreetParking .*downtown$), b1 (Building, name),
    b2 (Building, only entities, located in Daegu), b3 (Building, observed in 2020-2021)."""
    for body in (
        registration(1),
        building(1),
        {**building(2, location={"type": "Point", "coordinates": [128.6, 35.87]})},
        building(
            3,
            observationInterval={
                "startAt": "2020-08-01T00:00:00Z",
                "endAt": "2021-08-01T00:00:00Z",
            },
        ),
    ):
        if body["id"].endswith("b2"):
            body["information"] = [{"entities": [{"type": "Building"}]}]
        assert client.post(R, json=body).status_code == 201
    return client


def test_query_needs_type_attrs_q_or_geoquery(some: TestClient) -> None:
    response = some.get(R)
    assert response.status_code == 400 and problem_type(response) == "BadRequestData"
    only_ids = some.get(R, params={"id": "urn:ngsi-ld:Vehicle:A456"})
    assert only_ids.status_code == 400


def test_query_by_type_returns_registrations_of_that_type(some: TestClient) -> None:
    assert ids(some.get(R, params={"type": "Building"})) == ["b1", "b2"]
    assert ids(some.get(R, params={"type": "Vehicle"})) == ["1"]
    assert ids(some.get(R, params={"type": "Tram"})) == []


def test_query_by_type_selection(some: TestClient) -> None:
    assert ids(some.get(R, params={"type": "Vehicle|Building"})) == ["1", "b1", "b2"]
    assert ids(some.get(R, params={"type": "Vehicle;Building"})) == []


def test_only_matching_information_is_returned(some: TestClient) -> None:
    [found] = some.get(R, params={"type": "Vehicle"}).json()
    assert found["information"] == [registration()["information"][0]]


def test_query_by_attrs_matches_names_or_registrations_without_names(some: TestClient) -> None:
    assert ids(some.get(R, params={"attrs": "name"})) == ["b1", "b2"]
    speed = some.get(R, params={"attrs": "speed"}).json()
    assert [r["id"][-2:] for r in speed] == [":1", "b2"]
    assert speed[0]["information"] == [registration()["information"][0]]
    assert ids(some.get(R, params={"type": "Building", "attrs": "colour"})) == ["b2"]


def test_query_by_entity_id_and_id_pattern(some: TestClient) -> None:
    by_id = {"type": "Vehicle", "id": "urn:ngsi-ld:Vehicle:A456"}
    assert ids(some.get(R, params=by_id)) == ["1"]
    other = {"type": "Vehicle", "id": "urn:ngsi-ld:Vehicle:B1"}
    assert ids(some.get(R, params=other)) == []
    # an id matching a registered idPattern
    parking = {"type": "OffStreetParking", "id": "urn:ngsi-ld:OffStreetParking:downtown"}
    assert ids(some.get(R, params=parking)) == ["1"]
    # two patterns may always meet; a pattern matching the registered id
    assert ids(some.get(R, params={"type": "OffStreetParking", "idPattern": ".*47$"})) == ["1"]
    assert ids(some.get(R, params={"type": "Vehicle", "idPattern": "A4"})) == ["1"]
    assert ids(some.get(R, params={"type": "Vehicle", "idPattern": "^B"})) == []
    # EntityInfo without id or pattern: any id
    assert ids(some.get(R, params={"type": "Building", "id": "urn:x:1"})) == ["b1", "b2"]


def test_q_names_count_as_attributes_and_csf_filters_properties(client: TestClient) -> None:
    assert client.post(R, json=building(1, csourceProperty1="aValue")).status_code == 201
    assert client.post(R, json=building(2, csourceProperty1="other")).status_code == 201
    assert ids(client.get(R, params={"q": 'name=="x"'})) == ["b1", "b2"]
    assert ids(client.get(R, params={"q": "colour>3"})) == []
    found = client.get(R, params={"type": "Building", "csf": 'csourceProperty1=="aValue"'})
    assert ids(found) == ["b1"]
    assert ids(client.get(R, params={"type": "Building", "csf": "endpoint~=b\\.example"})) == [
        "b1",
        "b2",
    ]


def test_geoquery_matches_the_registered_location(some: TestClient) -> None:
    near = {
        "type": "Building",
        "georel": "near;maxDistance==2000",
        "geometry": "Point",
        "coordinates": "[128.61,35.87]",
    }
    assert ids(some.get(R, params=near)) == ["b2"]
    far = {**near, "coordinates": "[127.0,37.5]"}
    assert ids(some.get(R, params=far)) == []
    within = {
        "type": "Building",
        "georel": "within",
        "geometry": "Polygon",
        "coordinates": "[[[128,35],[129,35],[129,36],[128,36],[128,35]]]",
        "geoproperty": "location",
    }
    assert ids(some.get(R, params=within)) == ["b2"]
    assert ids(some.get(R, params={**within, "geoproperty": "operationSpace"})) == []


def test_temporal_query_matches_intervals_and_without_it_only_latest(some: TestClient) -> None:
    assert "b3" not in ids(some.get(R, params={"type": "Building"}))
    before = {"type": "Building", "timerel": "before", "timeAt": "2021-08-01T22:00:00Z"}
    assert ids(some.get(R, params=before)) == ["b3"]
    assert ids(some.get(R, params={**before, "timeAt": "2019-01-01T00:00:00Z"})) == []
    after = {"type": "Building", "timerel": "after", "timeAt": "2021-09-01T00:00:00Z"}
    assert ids(some.get(R, params=after)) == []
    between = {
        "type": "Building",
        "timerel": "between",
        "timeAt": "2021-07-01T00:00:00Z",
        "endTimeAt": "2022-01-01T00:00:00Z",
    }
    assert ids(some.get(R, params=between)) == ["b3"]
    # createdAt/modifiedAt/deletedAt are matched against managementInterval: b3 has none
    assert ids(some.get(R, params={**before, "timeproperty": "modifiedAt"})) == []


def test_management_interval_is_matched_for_system_time_properties(client: TestClient) -> None:
    interval = {"startAt": "2020-08-01T22:07:00Z", "endAt": "2021-08-01T21:07:00Z"}
    assert client.post(R, json=building(1, managementInterval=interval)).status_code == 201
    query = {"type": "Building", "timerel": "before", "timeAt": "2021-08-01T22:00:00Z"}
    assert ids(client.get(R, params={**query, "timeproperty": "createdAt"})) == ["b1"]
    assert ids(client.get(R, params=query)) == []  # observedAt: no observationInterval


def test_scope_query_matches_registered_scopes(client: TestClient) -> None:
    assert client.post(R, json=building(1, scope="/Daegu/Jung")).status_code == 201
    assert client.post(R, json=building(2, scope=["/Seoul"])).status_code == 201
    assert ids(client.get(R, params={"type": "Building", "scopeQ": "/Daegu/#"})) == ["b1"]


@pytest.mark.parametrize(
    "query",
    [
        {"type": "Building", "id": "invalidUri"},
        {"q": "(invalidQuery"},
        {"georel": "within"},
        {"type": "Building", "georel": "within", "geometry": "Polygon", "coordinates": "[[1,2]]"},
        {"timerel": "before", "type": "Building"},
        {"timerel": "whenever", "timeAt": "2021-01-01T00:00:00Z", "type": "Building"},
        {"type": "Building", "timerel": "between", "timeAt": "2021-01-01T00:00:00Z"},
        {"type": "Building", "timeproperty": "someday"},
        {"type": "Building", "idPattern": "("},
        {"type": "Building", "csf": "a=="},
        {"type": "(Building"},
    ],
)
def test_invalid_query_is_400_bad_request_data(client: TestClient, query: dict[str, str]) -> None:
    response = client.get(R, params=query)
    assert response.status_code == 400, query
    assert problem_type(response) == "BadRequestData"


def test_pagination_count_and_links(some: TestClient) -> None:
    first = some.get(R, params={"type": "Building", "limit": "1", "count": "true"})
    assert ids(first) == ["b1"]
    assert first.headers["NGSILD-Results-Count"] == "2"
    assert 'rel="next"' in first.headers["Link"] and "offset=1" in first.headers["Link"]
    second = some.get(R, params={"type": "Building", "limit": "1", "offset": "1"})
    assert ids(second) == ["b2"] and 'rel="prev"' in second.headers["Link"]
    assert ids(some.get(R, params={"type": "Building", "offset": "5"})) == []


def test_query_names_expand_with_the_link_context(client: TestClient) -> None:
    link = hosted_link(client)
    assert client.post(R, json=registration(1), headers=link).status_code == 201
    assert client.post(R, json=registration(2)).status_code == 201
    assert ids(client.get(R, params={"type": "Vehicle"}, headers=link)) == ["1"]
    assert ids(client.get(R, params={"type": "Vehicle"})) == ["2"]
    uri = client.get(R, params={"type": "https://example.org/ns#Vehicle"})
    assert ids(uri) == ["1"]


def test_discovery_is_per_tenant(client: TestClient) -> None:
    assert client.post(R, json=building(1), headers={"NGSILD-Tenant": "t1"}).status_code == 201
    assert ids(client.get(R, params={"type": "Building"})) == []
    found = client.get(R, params={"type": "Building"}, headers={"NGSILD-Tenant": "t1"})
    assert ids(found) == ["b1"]


def test_dataset_ids_must_meet_when_both_name_them(client: TestClient) -> None:
    named = building(1, datasetId=["urn:ngsi-ld:Dataset:a"])
    assert client.post(R, json=named).status_code == 201
    assert client.post(R, json=building(2)).status_code == 201
    query = {"type": "Building", "datasetId": "urn:ngsi-ld:Dataset:b"}
    assert ids(client.get(R, params=query)) == ["b2"]
    query["datasetId"] = "urn:ngsi-ld:Dataset:b,urn:ngsi-ld:Dataset:a"
    assert ids(client.get(R, params=query)) == ["b1", "b2"]
    assert ids(client.get(R, params={"type": "Building"})) == ["b1", "b2"]


def test_an_expired_registration_is_not_discovered(client: TestClient) -> None:
    """Forwarding no longer used a registration past its expiresAt, but discovery listed it."""
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat(timespec="milliseconds")
    assert (
        client.post(R, json=building(1, expiresAt=soon.replace("+00:00", "Z"))).status_code == 201
    )
    assert client.post(R, json=building(2)).status_code == 201
    assert ids(client.get(R, params={"type": "Building"})) == ["b1", "b2"]
    time.sleep(1.2)
    assert ids(client.get(R, params={"type": "Building"})) == ["b2"]
    kept = client.get(f"{R}/urn:ngsi-ld:ContextSourceRegistration:b1")
    assert kept.status_code == 200  # still there by its id, expired
