"""The temporal API: history recorded by every write, queried by time, aggregated in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings

E = "/ngsi-ld/v1/entities"
T = "/ngsi-ld/v1/temporal/entities"
T0 = "2026-11-01T00:00:00Z"


def reading(value: float, at: str) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": at}


@pytest.fixture
def sensor(client: TestClient) -> str:
    client.post(
        E,
        json={
            "id": "urn:ngsi-ld:Sensor:1",
            "type": "Sensor",
            "temp": reading(10, "2026-11-01T00:00:00Z"),
        },
    )
    for hour, value in [(1, 12), (2, 14), (3, 20), (5, 8)]:
        patched = client.patch(
            f"{E}/urn:ngsi-ld:Sensor:1/attrs/temp",
            json=reading(value, f"2026-11-01T0{hour}:00:00Z"),
        )
        assert patched.status_code == 204
    return "urn:ngsi-ld:Sensor:1"


def test_every_update_is_recorded_as_an_instance(client: TestClient, sensor: str) -> None:
    history = client.get(f"{T}/{sensor}").json()
    values = [i["value"] for i in history["temp"]]
    assert values == [10, 12, 14, 20, 8]
    assert all(i["instanceId"].startswith("urn:ngsi-ld:Instance:") for i in history["temp"])


def test_timerel_between_and_last_n(client: TestClient, sensor: str) -> None:
    between = client.get(
        f"{T}/{sensor}",
        params={
            "timerel": "between",
            "timeAt": "2026-11-01T01:00:00Z",
            "endTimeAt": "2026-11-01T03:00:00Z",
        },
    ).json()
    assert [i["value"] for i in between["temp"]] == [12, 14]
    last = client.get(f"{T}/{sensor}", params={"lastN": "2"}).json()
    assert [i["value"] for i in last["temp"]] == [20, 8]
    before = client.get(
        f"{T}/{sensor}", params={"timerel": "before", "timeAt": "2026-11-01T01:30:00Z"}
    ).json()
    assert [i["value"] for i in before["temp"]] == [10, 12]


def test_temporal_values_representation(client: TestClient, sensor: str) -> None:
    simple = client.get(f"{T}/{sensor}", params={"options": "temporalValues", "lastN": "1"})
    assert simple.json()["temp"] == {"type": "Property", "values": [[8, "2026-11-01T05:00:00Z"]]}


def test_temporal_values_of_an_attribute_whose_type_changed_keep_every_value(
    client: TestClient,
) -> None:
    """A group for each type the attribute had: under the first one's type the later
    instances' values were `null` (a differential test: 5 and 7 were lost)."""
    body = {
        "id": "urn:ngsi-ld:TT:1",
        "type": "TT",
        "a": {"type": "Relationship", "object": "urn:ngsi-ld:X:1", "observedAt": T0},
    }
    assert client.post(E, json=body).status_code == 201
    for value, day in ((5, "02"), (7, "03")):
        later = {"a": {**reading(value, f"2026-11-{day}T00:00:00Z")}}
        assert client.post(f"{E}/urn:ngsi-ld:TT:1/attrs", json=later).status_code == 204
    simple = client.get(
        f"{T}/urn:ngsi-ld:TT:1",
        params={"options": "temporalValues", "timerel": "after", "timeAt": "2026-01-01T00:00:00Z"},
    )
    assert simple.status_code == 200, simple.text
    assert simple.json()["a"] == [
        {"type": "Relationship", "objects": [["urn:ngsi-ld:X:1", T0]]},
        {
            "type": "Property",
            "values": [[5, "2026-11-02T00:00:00Z"], [7, "2026-11-03T00:00:00Z"]],
        },
    ]


def test_aggregated_values_per_period(client: TestClient, sensor: str) -> None:
    response = client.get(
        f"{T}/{sensor}",
        params={
            "options": "aggregatedValues",
            "aggrMethods": "avg,max,totalCount",
            "aggrPeriodDuration": "PT2H",
            "timerel": "after",
            "timeAt": "2026-10-31T23:59:59Z",
        },
    )
    assert response.status_code == 200, response.text
    temp = response.json()["temp"]
    assert [b[0] for b in temp["totalCount"]] == [2, 2, 1]
    assert [b[0] for b in temp["max"]] == [12, 20, 8]
    assert temp["avg"][0][0] == pytest.approx(11)
    assert temp["avg"][0][1:] == ["2026-10-31T23:59:59Z", "2026-11-01T01:59:59Z"]


def test_query_across_entities_by_type(client: TestClient, sensor: str) -> None:
    client.post(
        E,
        json={
            "id": "urn:ngsi-ld:Sensor:2",
            "type": "Sensor",
            "temp": reading(1, "2026-11-02T00:00:00Z"),
        },
    )
    found = client.get(
        T,
        params={
            "type": "Sensor",
            "timerel": "after",
            "timeAt": "2026-11-01T04:00:00Z",
            "count": "true",
        },
    )
    assert found.status_code == 200
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"]
    assert found.headers["NGSILD-Results-Count"] == "2"
    # clients of earlier NGSI-LD versions (e.g. ngsildclient) ask with options=count
    legacy = client.get(
        T,
        params={
            "type": "Sensor",
            "timerel": "after",
            "timeAt": "2026-11-01T04:00:00Z",
            "options": "count,temporalValues",
        },
    )
    assert legacy.status_code == 200, legacy.text
    assert legacy.headers["NGSILD-Results-Count"] == "2"
    post = client.post(
        "/ngsi-ld/v1/temporal/entityOperations/query",
        json={
            "type": "Query",
            "entities": [{"type": "Sensor"}],
            "temporalQ": {"timerel": "after", "timeAt": "2026-11-01T06:00:00Z"},
        },
    )
    assert [e["id"] for e in post.json()] == ["urn:ngsi-ld:Sensor:2"]


def test_create_append_and_delete_history(client: TestClient) -> None:
    body = {
        "id": "urn:ngsi-ld:Meter:1",
        "type": "Meter",
        "power": [reading(1, "2026-11-01T00:00:00Z"), reading(2, "2026-11-01T00:01:00Z")],
    }
    assert client.post(T, json=body).status_code == 201
    appended = client.post(
        f"{T}/urn:ngsi-ld:Meter:1/attrs", json={"power": [reading(3, "2026-11-01T00:02:00Z")]}
    )
    assert appended.status_code == 204
    history = client.get(f"{T}/urn:ngsi-ld:Meter:1").json()
    assert [i["value"] for i in history["power"]] == [1, 2, 3]
    first = history["power"][0]["instanceId"]
    patched = client.patch(
        f"{T}/urn:ngsi-ld:Meter:1/attrs/power/{first}", json=reading(100, "2026-11-01T00:00:00Z")
    )
    assert patched.status_code == 204
    assert client.get(f"{T}/urn:ngsi-ld:Meter:1").json()["power"][0]["value"] == 100
    assert client.delete(f"{T}/urn:ngsi-ld:Meter:1/attrs/power/{first}").status_code == 204
    assert len(client.get(f"{T}/urn:ngsi-ld:Meter:1").json()["power"]) == 2
    assert client.delete(f"{T}/urn:ngsi-ld:Meter:1").status_code == 204
    assert client.get(f"{T}/urn:ngsi-ld:Meter:1").status_code == 404


def test_bad_temporal_queries_are_400(client: TestClient, sensor: str) -> None:
    bad = [
        {"timerel": "during", "timeAt": "2026-11-01T00:00:00Z"},
        {"timerel": "between", "timeAt": "2026-11-01T00:00:00Z"},
        {"timerel": "after"},
        {"lastN": "0"},
        {"options": "aggregatedValues", "aggrMethods": "median"},
        {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "P1M2D"},
    ]
    for query in bad:
        assert client.get(f"{T}/{sensor}", params=query).status_code == 400, query
    assert client.get(T, params={"type": "Sensor"}).status_code == 400


@pytest.fixture
def small_pages(settings: Settings) -> Iterator[TestClient]:
    """A broker that returns at most 3 instances per attribute in one answer."""
    limited = settings.model_copy(update={"temporal_instance_limit": 3})
    with TestClient(build_app(limited)) as test_client:
        yield test_client


def meter(client: TestClient, entity_id: str = "urn:ngsi-ld:Meter:1", count: int = 6) -> str:
    body = {
        "id": entity_id,
        "type": "Meter",
        "power": [reading(i, f"2026-11-01T0{i}:00:00Z") for i in range(count)],
    }
    assert client.post(T, json=body).status_code == 201
    return entity_id


def test_history_over_the_instance_limit_is_a_206_with_its_time_range(
    small_pages: TestClient,
) -> None:
    entity_id = meter(small_pages)
    first = small_pages.get(f"{T}/{entity_id}")
    assert first.status_code == 206
    assert first.headers["Content-Range"] == "date-time 2026-11-01T00:00:00Z-2026-11-01T02:00:00Z/*"
    assert [i["value"] for i in first.json()["power"]] == [0, 1, 2]
    newest = small_pages.get(f"{T}/{entity_id}", params={"lastN": "5"})
    assert newest.status_code == 206
    assert (
        newest.headers["Content-Range"] == "date-time 2026-11-01T05:00:00Z-2026-11-01T03:00:00Z/5"
    )
    assert [i["value"] for i in newest.json()["power"]] == [3, 4, 5]
    within = small_pages.get(f"{T}/{entity_id}", params={"lastN": "2"})
    assert within.status_code == 200
    assert "Content-Range" not in within.headers


def test_query_with_q_keeps_entities_with_a_matching_instance_in_the_interval(
    client: TestClient,
) -> None:
    meter(client, "urn:ngsi-ld:Meter:1", count=3)  # values 0..2
    meter(client, "urn:ngsi-ld:Meter:2", count=6)  # values 0..5
    base = {"type": "Meter", "timerel": "after", "timeAt": "2026-11-01T00:00:00Z"}
    found = client.get(T, params={**base, "q": "power>3"})
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Meter:2"]
    early = {**base, "timerel": "before", "timeAt": "2026-11-01T03:00:00Z", "q": "power>3"}
    assert client.get(T, params=early).json() == []


def test_geo_query_leaves_out_entities_without_a_location(client: TestClient) -> None:
    meter(client, "urn:ngsi-ld:Meter:1", count=2)
    placed = {
        "id": "urn:ngsi-ld:Meter:2",
        "type": "Meter",
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [128.6, 35.87]},
            "observedAt": "2026-11-01T00:00:00Z",
        },
    }
    assert client.post(T, json=placed).status_code == 201
    found = client.get(
        T,
        params={
            "type": "Meter",
            "timerel": "after",
            "timeAt": "2026-10-01T00:00:00Z",
            "georel": "near;maxDistance==2000",
            "geometry": "Point",
            "coordinates": "[128.601,35.871]",
        },
    )
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Meter:2"]


def test_dataset_id_selects_instances(client: TestClient) -> None:
    body = {
        "id": "urn:ngsi-ld:Meter:1",
        "type": "Meter",
        "power": [
            reading(1, "2026-11-01T00:00:00Z"),
            {**reading(2, "2026-11-01T01:00:00Z"), "datasetId": "urn:ngsi-ld:Dataset:b"},
        ],
    }
    assert client.post(T, json=body).status_code == 201
    only_b = client.get(
        f"{T}/urn:ngsi-ld:Meter:1",
        params={"datasetId": "urn:ngsi-ld:Dataset:b", "options": "temporalValues"},
    )
    assert only_b.json()["power"] == {
        "type": "Property",
        "datasetId": "urn:ngsi-ld:Dataset:b",
        "values": [[2, "2026-11-01T01:00:00Z"]],
    }
    default = client.get(f"{T}/urn:ngsi-ld:Meter:1", params={"datasetId": "@none"})
    assert [i["value"] for i in default.json()["power"]] == [1]


def test_deleted_attribute_is_found_by_deleted_at(client: TestClient, sensor: str) -> None:
    assert client.delete(f"{E}/{sensor}/attrs/temp").status_code == 204
    deleted = client.get(f"{T}/{sensor}", params={"timeproperty": "deletedAt"}).json()
    (record,) = deleted["temp"]
    assert record["value"] == "urn:ngsi-ld:null"
    assert "deletedAt" in record and "instanceId" in record


def test_temporal_create_makes_the_entity_and_upsert_replaces_same_time(
    client: TestClient,
) -> None:
    entity_id = meter(client, count=2)
    assert client.get(f"{E}/{entity_id}").json()["power"]["value"] == 1
    again = {"id": entity_id, "type": "Meter", "power": [reading(10, "2026-11-01T00:00:00Z")]}
    assert client.post(T, json=again).status_code == 204
    history = client.get(f"{T}/{entity_id}").json()
    assert [i["value"] for i in history["power"]] == [10, 1]
    assert client.delete(f"{T}/{entity_id}").status_code == 204
    assert client.get(f"{E}/{entity_id}").status_code == 404


def test_aggregation_by_calendar_month_and_over_the_whole_range(client: TestClient) -> None:
    body = {
        "id": "urn:ngsi-ld:Meter:1",
        "type": "Meter",
        "power": [
            reading(1, "2026-01-15T00:00:00Z"),
            reading(3, "2026-02-10T00:00:00Z"),
            reading(5, "2026-02-20T00:00:00Z"),
            reading(7, "2026-03-01T00:00:00Z"),
        ],
    }
    assert client.post(T, json=body).status_code == 201
    window = {"timerel": "after", "timeAt": "2026-01-01T00:00:00Z"}
    monthly = client.get(
        f"{T}/urn:ngsi-ld:Meter:1",
        params={
            **window,
            "options": "aggregatedValues",
            "aggrMethods": "sum,totalCount",
            "aggrPeriodDuration": "P1M",
        },
    ).json()["power"]
    assert monthly["sum"] == [
        [1, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"],
        [8, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"],
        [7, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"],
    ]
    whole = client.get(
        f"{T}/urn:ngsi-ld:Meter:1",
        params={**window, "options": "aggregatedValues", "aggrMethods": "sum,stddev,sumsq"},
    )
    assert whole.status_code == 200
    power = whole.json()["power"]
    assert power["sum"] == [[16, "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"]]
    assert power["sumsq"][0][0] == 84
    assert power["stddev"][0][0] == pytest.approx(2.5819889)


def test_aggregation_buckets_hold_readings_on_their_bounds_exactly(client: TestClient) -> None:
    # a reading exactly at a bucket's start belongs to that bucket, never to the one before
    readings = [
        reading(
            minute,
            f"2026-01-{1 + minute // 1440:02d}T{minute // 60 % 24:02d}:{minute % 60:02d}:00Z",
        )
        for minute in range(0, 72 * 60, 5)
    ]
    body = {"id": "urn:ngsi-ld:Meter:9", "type": "Meter", "power": readings}
    assert client.post(T, json=body).status_code == 201
    for period, size in (("PT1H", 12), ("PT15M", 3), ("P1D", 288)):
        found = client.get(
            f"{T}/urn:ngsi-ld:Meter:9",
            params={
                "timerel": "between",
                "timeAt": "2026-01-01T00:00:00Z",
                "endTimeAt": "2026-01-04T00:00:00Z",
                "options": "aggregatedValues",
                "aggrMethods": "totalCount,min,max",
                "aggrPeriodDuration": period,
            },
        ).json()["power"]
        assert {b[0] for b in found["totalCount"]} == {size}, period
        assert [b[0] for b in found["min"]] == list(range(0, 72 * 60, 5 * size)), period
    spread = client.get(
        T,
        params={
            "type": "Meter",
            "timerel": "after",
            "timeAt": "2026-01-01T00:30:00Z",
            "options": "aggregatedValues",
            "aggrMethods": "totalCount",
            "aggrPeriodDuration": "PT1H",
        },
    ).json()
    counts = spread[0]["power"]["totalCount"]
    assert counts[0] == [12, "2026-01-01T00:30:00Z", "2026-01-01T01:30:00Z"]
    assert counts[-1] == [6, "2026-01-03T23:30:00Z", "2026-01-04T00:30:00Z"]
    # no timerel: the buckets start at the entity's first instance
    whole = client.get(
        f"{T}/urn:ngsi-ld:Meter:9",
        params={
            "options": "aggregatedValues",
            "aggrMethods": "totalCount",
            "aggrPeriodDuration": "PT1H",
        },
    ).json()["power"]["totalCount"]
    assert {b[0] for b in whole} == {12}
    assert whole[1] == [12, "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"]


def test_every_method_from_a_fixed_origin_and_from_the_first_instance(
    client: TestClient,
) -> None:
    values = [("00:00", 1), ("00:20", 3), ("00:40", 3), ("01:10", "high"), ("01:30", 5)]
    body = {
        "id": "urn:ngsi-ld:Meter:7",
        "type": "Meter",
        "power": [
            {"type": "Property", "value": v, "observedAt": f"2026-01-01T{t}:00Z"} for t, v in values
        ],
    }
    assert client.post(T, json=body).status_code == 201
    methods = "totalCount,distinctCount,sum,avg,min,max,stddev,sumsq"
    base = {"options": "aggregatedValues", "aggrMethods": methods, "aggrPeriodDuration": "PT1H"}
    fixed = client.get(
        f"{T}/urn:ngsi-ld:Meter:7",
        params={**base, "timerel": "after", "timeAt": "2026-01-01T00:00:00Z"},
    ).json()["power"]
    first = client.get(f"{T}/urn:ngsi-ld:Meter:7", params=base).json()["power"]
    for power in (fixed, first):
        got = {m: [b[0] for b in power[m]] for m in methods.split(",")}
        assert got["totalCount"] == [3, 2]
        assert got["distinctCount"] == [2, 2]
        assert got["sum"] == [7, 5]
        assert got["avg"] == [pytest.approx(7 / 3), 5]
        assert got["min"] == [1, 5]
        assert got["max"] == [3, 5]
        assert got["sumsq"] == [19, 25]
        assert got["stddev"] == [pytest.approx((4 / 3) ** 0.5), 0]
        assert power["sum"][1][1:] == ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"]


def test_pick_and_omit_shape_temporal_entities(client: TestClient, sensor: str) -> None:
    picked = client.get(f"{T}/{sensor}", params={"pick": "temp", "lastN": "1"}).json()
    assert list(picked) == ["temp"]
    omitted = client.get(f"{T}/{sensor}", params={"omit": "type,temp"}).json()
    assert omitted == {"id": sensor}
    assert client.get(f"{T}/{sensor}", params={"pick": "unknown"}).status_code == 404
    assert client.get(f"{T}/{sensor}", params={"attrs": "unknown"}).status_code == 404


def test_temporal_order_by_id_descending(client: TestClient) -> None:
    meter(client, "urn:ngsi-ld:Meter:1", count=1)
    meter(client, "urn:ngsi-ld:Meter:2", count=1)
    base = {"type": "Meter", "timerel": "after", "timeAt": "2026-01-01T00:00:00Z"}
    found = client.get(T, params={**base, "orderBy": "id;desc"}).json()
    assert [e["id"] for e in found] == ["urn:ngsi-ld:Meter:2", "urn:ngsi-ld:Meter:1"]
    assert client.get(T, params={**base, "orderBy": "power;sideways"}).status_code == 400


def test_temporal_order_by_members_of_the_entities_as_they_are(client: TestClient) -> None:
    """orderBy on attributes, their sub-attributes and entity members (clause 4.23), read from
    the entities now; an entity whose history outlives it comes last."""
    building = "urn:ngsi-ld:Building:"
    for n, name, floors in ((2, "B", 1), (1, "A", 3), (3, "C", 2), (4, "D", 0)):
        created = client.post(
            E,
            json={
                "id": f"{building}{n}",
                "type": "Building",
                "name": {
                    "type": "Property",
                    "value": name,
                    "floors": {"type": "Property", "value": floors},
                },
            },
        )
        assert created.status_code == 201
    assert client.delete(f"{E}/{building}4").status_code == 204
    base = {"type": "Building", "timerel": "after", "timeAt": "1970-01-01T00:00:00Z"}

    def order(order_by: str) -> list[int]:
        found = client.get(T, params={**base, "timeproperty": "createdAt", "orderBy": order_by})
        assert found.status_code == 200, found.text
        return [int(e["id"].removeprefix(building)) for e in found.json()]

    assert order("name") == [1, 2, 3, 4]
    assert order("name;desc") == [3, 2, 1, 4]
    assert order("createdAt") == [2, 1, 3, 4]
    assert order("name.floors") == [2, 3, 1, 4]
    assert order("type,name.floors;desc") == [1, 3, 2, 4]
    assert order("id;desc") == [4, 3, 2, 1]
    paged = client.get(
        T, params={**base, "timeproperty": "createdAt", "orderBy": "name;desc", "limit": "2"}
    )
    assert [e["id"] for e in paged.json()] == [f"{building}3", f"{building}2"]
    posted = client.post(
        "/ngsi-ld/v1/temporal/entityOperations/query",
        json={
            "type": "Query",
            "entities": [{"type": "Building"}],
            "temporalQ": {"timerel": "after", "timeAt": "1970-01-01T00:00:00Z"},
            "ordering": {"orderBy": ["name.floors"]},
        },
        params={"timeproperty": "createdAt"},
    )
    assert posted.status_code == 200, posted.text
    assert [e["id"] for e in posted.json()][:3] == [f"{building}{n}" for n in (2, 3, 1)]


def test_bad_format_and_instance_ids_are_4xx(client: TestClient, sensor: str) -> None:
    bad_format = client.get(f"{T}/{sensor}", params={"format": "invalidFormat"})
    assert bad_format.status_code == 400
    assert bad_format.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
    assert client.delete(f"{T}/{sensor}/attrs/temp/invalidId").status_code == 400
    assert client.delete(f"{T}/{sensor}/attrs//urn:ngsi-ld:Instance:1").status_code == 400
    missing = client.patch(
        f"{T}/{sensor}/attrs//urn:ngsi-ld:Instance:1", json=reading(1, "2026-11-01T00:00:00Z")
    )
    assert missing.status_code == 400
    assert (
        client.get(
            T, params={"id": sensor, "timerel": "after", "timeAt": "2026-01-01T00:00:00Z"}
        ).status_code
        == 400
    )


def test_retention_forgets_old_history(client: TestClient) -> None:
    meter(client, "urn:ngsi-ld:Meter:1", count=2)  # November 2026
    old = {
        "id": "urn:ngsi-ld:Meter:old",
        "type": "Meter",
        "power": [reading(1, "2020-01-05T00:00:00Z")],
    }
    assert client.post(T, json=old).status_code == 201
    service = client.app.state.dalgu.temporal
    gone = client.portal.call(service.forget_before, datetime(2025, 1, 1, tzinfo=UTC))
    assert gone == 1
    assert client.get(f"{T}/urn:ngsi-ld:Meter:old").status_code == 404
    assert len(client.get(f"{T}/urn:ngsi-ld:Meter:1").json()["power"]) == 2


def test_a_page_cut_by_one_entity_keeps_the_others_history_inside_its_range(
    small_pages: TestClient,
) -> None:
    """One entity filling the page must not hide the instances of the others that lie inside
    the range the 206 reports: a client paging on from its end would never see them."""
    meter(small_pages, "urn:ngsi-ld:Meter:big")  # 2026-11-01T00..05
    for entity_id, at in (
        ("urn:ngsi-ld:Meter:old", "2026-10-01"),
        ("urn:ngsi-ld:Meter:new", "2026-12-01"),
    ):
        body = {"id": entity_id, "type": "Meter", "power": [reading(9, f"{at}T00:00:00Z")]}
        assert small_pages.post(T, json=body).status_code == 201

    def values(response: Any) -> dict[str, list[Any]]:
        return {
            e["id"].rsplit(":", 1)[1]: [i["value"] for i in e["power"]] for e in response.json()
        }

    before = small_pages.get(
        T, params={"type": "Meter", "timerel": "before", "timeAt": "2027-01-01T00:00:00Z"}
    )
    assert before.status_code == 206
    assert (
        before.headers["Content-Range"] == "date-time 2026-10-01T00:00:00Z-2026-11-01T02:00:00Z/*"
    )
    assert values(before) == {"big": [0, 1, 2], "old": [9], "new": []}
    newest = small_pages.get(
        T,
        params={
            "type": "Meter",
            "timerel": "after",
            "timeAt": "2026-01-01T00:00:00Z",
            "lastN": "5",
        },
    )
    assert newest.status_code == 206
    assert (
        newest.headers["Content-Range"] == "date-time 2026-12-01T00:00:00Z-2026-11-01T03:00:00Z/5"
    )
    assert values(newest) == {"big": [3, 4, 5], "old": [], "new": [9]}


def test_modifying_an_instance_keeps_its_created_at_its_type_and_its_attribute(
    client: TestClient,
) -> None:
    """Clause 5.6.14: the fragment holds exactly one instance of the path's attribute; the
    instance's createdAt stays; a fragment of another attribute, of two instances or of another
    attribute type is a 400 that changes nothing."""
    body = {"id": "urn:ngsi-ld:Meter:m", "type": "Meter", "power": [reading(1, T0)]}
    assert client.post(T, json=body).status_code == 201
    url = f"{T}/urn:ngsi-ld:Meter:m"
    (before,) = client.get(url, params={"options": "sysAttrs"}).json()["power"]
    path = f"{url}/attrs/power/{before['instanceId']}"
    for bad in (
        {"other": [reading(24, T0)]},
        {"power": [reading(2, T0), reading(3, T0)]},
        {"power": [{"type": "Relationship", "object": "urn:ngsi-ld:X:1"}]},
    ):
        assert client.patch(path, json=bad).status_code == 400, bad
    assert client.patch(path, json={"power": [reading(2, T0)]}).status_code == 204
    (after,) = client.get(url, params={"options": "sysAttrs"}).json()["power"]
    assert after["value"] == 2 and after["observedAt"] == T0
    assert after["createdAt"] == before["createdAt"]
    assert after["modifiedAt"] >= before["modifiedAt"]
