"""Keyset paging (`EntityQuery.after`, `TemporalQuery.after`) on both stores: reading every
page, each after the last id of the one before, gives the same entities in the same order as
one query for all of them, whichever index drives the query (the id walk, a type, a value
range of `q`, the R*Tree of a geo-query, an id pattern)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from starlette.testclient import TestClient

from dalgu.query.ast import TypeName, map_names
from dalgu.query.geo import parse_geoquery
from dalgu.query.q import parse_q
from dalgu.store.base import EntityQuery, TemporalQuery

NS = "https://uri.etsi.org/ngsi-ld/default-context/"
T = TypeVar("T")


def _vehicle(i: int) -> dict[str, Any]:
    return {
        # ids whose order is not their creation order
        "id": f"urn:ngsi-ld:Vehicle:{(i * 7) % 40:02d}",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": i % 10, "observedAt": "2026-12-01T10:00:00Z"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [128.6 + i * 0.0001, 35.87]},
        },
    }


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    body = [_vehicle(i) for i in range(40)]
    response = client.post("/ngsi-ld/v1/entityOperations/upsert", json=body)
    assert response.status_code == 201, response.text
    return client


def _run(client: TestClient, make: Callable[[], Awaitable[T]]) -> T:
    return client.portal.call(make)  # type: ignore[union-attr]


def _ids(client: TestClient, query: EntityQuery) -> list[str]:
    store = client.app.state.dalgu.store  # type: ignore[attr-defined]

    async def read() -> list[str]:
        return [e["id"] for e in (await store.query("", query)).entities]

    return _run(client, read)


def _paged(client: TestClient, query: EntityQuery, size: int) -> list[str]:
    found: list[str] = []
    for _ in range(100):  # a store that ignored `after` would repeat the first page forever
        page = _ids(client, replace(query, limit=size, after=found[-1] if found else None))
        found += page
        if len(page) < size:
            break
    return found


QUERIES = {
    "all": EntityQuery(),
    "type": EntityQuery(types=TypeName(NS + "Vehicle")),
    "q range": EntityQuery(q=map_names(parse_q("speed>=3;speed<6"), lambda n: NS + n)),
    "near": EntityQuery(
        geo=parse_geoquery(
            "near;maxDistance==2000",
            "Point",
            "[128.6,35.87]",
            "https://uri.etsi.org/ngsi-ld/location",
        )
    ),
    "id pattern": EntityQuery(id_pattern=".*:[0-2][0-9]$"),
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_pages_after_the_last_id_read_are_the_whole_answer_in_order(
    loaded: TestClient, name: str
) -> None:
    query = QUERIES[name]
    whole = _ids(loaded, replace(query, limit=1000))
    assert whole == sorted(whole) and len(whole) >= 8
    assert _paged(loaded, query, 3) == whole
    # a page after an id no entity has starts at the next id there is
    assert _ids(loaded, replace(query, limit=2, after=whole[2] + "!")) == whole[3:5]


def test_temporal_pages_after_the_last_id_read_are_the_whole_answer(loaded: TestClient) -> None:
    temporal = loaded.app.state.dalgu.temporal  # type: ignore[attr-defined]

    def page(after: str | None) -> list[str]:
        query = TemporalQuery(types=TypeName(NS + "Vehicle"), limit=7, after=after)

        async def read() -> list[str]:
            return [e.id for e in (await temporal.query("", query)).entities]

        return _run(loaded, read)

    found: list[str] = []
    for _ in range(100):
        chunk = page(found[-1] if found else None)
        found += chunk
        if len(chunk) < 7:
            break
    assert found == sorted(f"urn:ngsi-ld:Vehicle:{(i * 7) % 40:02d}" for i in range(40))
