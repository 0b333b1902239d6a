"""A temporal query's `q` and `geoQ` select instances, not only entities (clause 5.7.4.4:
"include in their temporal representation only the Attribute instances ... and which meet
the temporal, query and geoquery restrictions"), in every representation and in
aggregations; and its `q` orders Date, Time and DateTime literals by type, as GET /entities
does (clause 4.9)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
T = "/ngsi-ld/v1/temporal/entities"
Q = "/ngsi-ld/v1/temporal/entityOperations/query"
AFTER = {"timerel": "after", "timeAt": "2026-01-01T00:00:00Z"}


def reading(value: Any, minute: int, **more: Any) -> dict[str, Any]:
    return {
        "type": "Property",
        "value": value,
        "observedAt": f"2026-01-01T00:{minute:02d}:00Z",
        **more,
    }


def sensor(client: TestClient) -> None:
    body = {
        "id": "urn:ngsi-ld:T:1",
        "type": "T",
        "v": [reading(41, 0), reading(73, 10), reading(66, 20), reading(90, 30)],
        "w": [reading(1, 5), reading(2, 25)],
    }
    assert client.post(T, json=body).status_code == 201


def series(client: TestClient, **params: str) -> dict[str, list[Any]]:
    response = client.get(T, params={"type": "T", "options": "temporalValues", **AFTER, **params})
    assert response.status_code == 200, response.text
    (entity,) = response.json()
    return {
        name: [v[0] for v in member["values"]]
        for name, member in entity.items()
        if isinstance(member, dict)
    }


def test_q_keeps_only_the_instances_that_meet_it(client: TestClient) -> None:
    sensor(client)
    assert series(client, q="v>70")["v"] == [73, 90]


def test_q_leaves_the_instances_of_attributes_it_does_not_name(client: TestClient) -> None:
    """`v>70` says nothing of `w`: its instances of the interval are all kept."""
    sensor(client)
    assert series(client, q="v>70")["w"] == [1, 2]


def test_q_terms_on_two_attributes_restrict_each_its_own(client: TestClient) -> None:
    sensor(client)
    got = series(client, q="v>70;w>1")
    assert got == {"v": [73, 90], "w": [2]}
    got = series(client, q="v<50|w<2")
    assert got == {"v": [41], "w": [1]}


def test_q_range_and_last_n_count_only_matching_instances(client: TestClient) -> None:
    sensor(client)
    assert series(client, q="v==60..80")["v"] == [73, 66]
    response = client.get(T, params={"type": "T", "q": "v<70", "lastN": "1", "attrs": "v", **AFTER})
    assert response.status_code == 200, response.text
    assert [i["value"] for i in response.json()[0]["v"]] == [66]


def test_q_applies_to_the_normalized_representation_and_post_query(client: TestClient) -> None:
    sensor(client)
    response = client.get(T, params={"type": "T", "q": "v>70", "attrs": "v", **AFTER})
    assert [i["value"] for i in response.json()[0]["v"]] == [73, 90]
    body = {
        "type": "Query",
        "entities": [{"type": "T"}],
        "q": "v>70",
        "attrs": ["v"],
        "temporalQ": {"timerel": "after", "timeAt": AFTER["timeAt"]},
    }
    response = client.post(Q, json=body)
    assert response.status_code == 200, response.text
    assert [i["value"] for i in response.json()[0]["v"]] == [73, 90]


@pytest.mark.parametrize(
    "window",
    [
        {"timerel": "after", "timeAt": "2026-01-01T00:00:00Z"},  # from the instances
        {"timerel": "after", "timeAt": "2026-01-01T00:00:00.000001Z"},
        {
            "timerel": "between",
            "timeAt": "2026-01-01T00:00:00Z",
            "endTimeAt": "2026-01-02T00:00:00Z",
        },  # whole hours: from the rollups when nothing restricts the instances
    ],
)
def test_q_restricts_the_aggregated_instances(client: TestClient, window: dict[str, str]) -> None:
    sensor(client)
    response = client.get(
        T,
        params={
            "type": "T",
            "q": "v>70",
            "options": "aggregatedValues",
            "aggrMethods": "min,totalCount,sum",
            "aggrPeriodDuration": "P1D" if window["timerel"] == "between" else "PT0S",
            **window,
        },
    )
    assert response.status_code == 200, response.text
    (entity,) = response.json()
    v = {method: entity["v"][method][0][0] for method in ("min", "totalCount", "sum")}
    assert v == {"min": 73, "totalCount": 2, "sum": 163}
    assert entity["w"]["totalCount"][0][0] == 2


def test_geoq_keeps_only_the_positions_that_meet_it(client: TestClient) -> None:
    def at(lon: float, minute: int) -> dict[str, Any]:
        return {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [lon, 0.5]},
            "observedAt": f"2026-01-01T00:{minute:02d}:00Z",
        }

    body = {"id": "urn:ngsi-ld:T:1", "type": "T", "loc": [at(0.5, 0), at(5.5, 10), at(0.6, 20)]}
    assert client.post(T, json=body).status_code == 201
    square = "[[[0,0],[1,0],[1,1],[0,1],[0,0]]]"
    got = client.get(
        T,
        params={
            "type": "T",
            "georel": "within",
            "geometry": "Polygon",
            "coordinates": square,
            "geoproperty": "loc",
            "options": "temporalValues",
            **AFTER,
        },
    )
    assert got.status_code == 200, got.text
    positions = [v[0]["coordinates"][0] for v in got.json()[0]["loc"]["values"]]
    assert positions == [0.5, 0.6]


WHEN = {"date": "2026-01-02", "time": "08:00:00", "datetime": "2026-01-02T00:00:00Z"}


@pytest.mark.parametrize(
    ("q", "kind"),
    [
        ("when<2026-01-05", "date"),
        ("when>2026-01-01", "date"),
        ("when<23:00:00", "time"),
        ("when>01:00:00", "time"),
        ("when>2026-01-01T00:00:00Z", "datetime"),
        ("when<2026-01-05T00:00:00Z", "datetime"),
        ("when==2026-01-01..2026-01-05", "date"),
    ],
)
def test_q_orders_dates_times_and_date_times_each_by_its_own_type(
    client: TestClient, q: str, kind: str
) -> None:
    """Clause 4.9: no match between values of different data types; a Date is not before a
    Time. The same `q` selects the same entities in GET /entities."""
    for name, value in WHEN.items():
        body = {
            "id": f"urn:ngsi-ld:T:{name}",
            "type": "T",
            "when": {"type": "Property", "value": value, "observedAt": "2026-01-01T00:10:00Z"},
        }
        assert client.post(E, json=body).status_code == 201
    current = client.get(E, params={"type": "T", "q": q})
    assert [e["id"] for e in current.json()] == [f"urn:ngsi-ld:T:{kind}"]
    response = client.get(T, params={"type": "T", "q": q, **AFTER})
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == [f"urn:ngsi-ld:T:{kind}"]
