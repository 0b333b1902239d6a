"""A temporal query's `q` and `geoQ` select entities, each with every instance of the window,
as the ETSI suite (021_08_01, 021_09_01) reads clause 5.7.4.4; and its `q` orders
Date, Time and DateTime literals by type, as GET /entities does (clause 4.9)."""

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


def test_q_selects_entities_that_keep_every_instance_of_the_window(client: TestClient) -> None:
    """As the ETSI suite's 021_08_01: `q` selects the entities (some instance of
    the window meets it); each keeps all its instances of the window, those that do not meet
    it included (docs/conformance.md says why clause 5.7.4.4 is read so)."""
    sensor(client)
    assert series(client, q="v>70") == {"v": [41, 73, 66, 90], "w": [1, 2]}
    assert series(client, q="v==60..80;w>1") == {"v": [41, 73, 66, 90], "w": [1, 2]}
    response = client.get(T, params={"type": "T", "q": "v>100", **AFTER})
    assert response.status_code == 200 and response.json() == []
    response = client.get(T, params={"type": "T", "q": "v<70", "lastN": "1", "attrs": "v", **AFTER})
    assert [i["value"] for i in response.json()[0]["v"]] == [90]
    body = {
        "type": "Query",
        "entities": [{"type": "T"}],
        "q": "v>70",
        "attrs": ["v"],
        "temporalQ": {"timerel": "after", "timeAt": AFTER["timeAt"]},
    }
    response = client.post(Q, json=body)
    assert response.status_code == 200, response.text
    assert [i["value"] for i in response.json()[0]["v"]] == [41, 73, 66, 90]


def test_q_selects_the_entities_an_aggregation_reads_whole(client: TestClient) -> None:
    sensor(client)
    response = client.get(
        T,
        params={
            "type": "T",
            "q": "v>70",
            "options": "aggregatedValues",
            "aggrMethods": "min,totalCount,sum",
            "aggrPeriodDuration": "PT0S",
            **AFTER,
        },
    )
    assert response.status_code == 200, response.text
    (entity,) = response.json()
    v = {method: entity["v"][method][0][0] for method in ("min", "totalCount", "sum")}
    assert v == {"min": 41, "totalCount": 4, "sum": 270}


def test_geoq_selects_entities_that_keep_every_position(client: TestClient) -> None:
    """As the ETSI suite's 021_09_01: a position in the area selects the entity."""

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
    assert positions == [0.5, 5.5, 0.6]


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
