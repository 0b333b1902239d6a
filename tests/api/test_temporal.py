"""The temporal API: history recorded by every write, queried by time, aggregated in SQL."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
T = "/ngsi-ld/v1/temporal/entities"


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
