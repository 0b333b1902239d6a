"""Pages of an `orderBy` on numbers driven from the value index (`store/sqlite/ordered.py`):
the same pages as ordering every match, which the store does with the driver off."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from dalgu.broker.mutations import create
from dalgu.query.ast import TypeName
from dalgu.query.order import OrderTerm
from dalgu.store.base import Entity, EntityQuery
from dalgu.store.sqlite import SqliteEntityStore
from dalgu.store.sqlite import store as sqlite_store
from tests.store.test_sqlite_query_plan import NS, q, traced

T0 = "2026-12-06T04:00:00.000Z"


def speed(rng: random.Random, n: int) -> list[dict[str, Any]] | None:
    """The shapes an attribute's values take: mostly one number (with many ties), and the
    ones a walk of single numbers cannot order by itself."""
    shape = rng.random()
    if shape < 0.07:
        return None  # absent: last either way
    if shape < 0.12:
        return [{"type": "Property", "value": rng.choice(["fast", "slow", "2026-12-06"])}]
    if shape < 0.15:
        return [{"type": "Property", "value": rng.random() < 0.5}]
    if shape < 0.18:
        return [{"type": "Property", "value": {"k": rng.randint(0, 30)}}]
    if shape < 0.24:  # several numbers in one value: the smallest or largest orders it
        return [{"type": "Property", "value": [rng.randint(-5, 40) for _ in range(3)]}]
    if shape < 0.28:  # two instances, each of its dataset
        return [
            {"type": "Property", "value": rng.randint(0, 30), "datasetId": "urn:d:a"},
            {"type": "Property", "value": rng.randint(0, 30), "datasetId": "urn:d:b"},
        ]
    if shape < 0.31:  # a number and a boolean under one attribute
        return [{"type": "Property", "value": [rng.randint(0, 30), True]}]
    value: Any = rng.randint(0, 30) if rng.random() < 0.8 else rng.uniform(0, 30)
    accuracy = {"type": "Property", "value": n % 7}  # a sub-attribute
    return [{"type": "Property", "value": value, f"{NS}accuracy": accuracy}]


def vehicle(rng: random.Random, n: int) -> Entity:
    entity: Entity = {
        "id": f"urn:ngsi-ld:Vehicle:{rng.randrange(10**6):06d}-{n}",  # ids out of creation order
        "type": [f"{NS}Car" if n % 4 else f"{NS}Bus"],
        "createdAt": T0,
        "modifiedAt": T0,
        f"{NS}name": [{"type": "Property", "value": f"v{rng.randint(0, 9)}"}],
    }
    values = speed(rng, n)
    if values is not None:
        entity[f"{NS}speed"] = values
    return entity


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEntityStore]:
    s = SqliteEntityStore(tmp_path / "dalgu.db")
    await s.open()
    rng = random.Random(7)
    vehicles = [vehicle(rng, n) for n in range(600)]
    await s.mutate("", [(v["id"], create(v)) for v in vehicles])
    yield s
    await s.close()


def page(store: SqliteEntityStore, query: EntityQuery) -> list[str]:
    store.db.execute("BEGIN")
    try:
        return [e["id"] for e in store._query("", query).entities]
    finally:
        store.db.execute("COMMIT")


def driven(store: SqliteEntityStore, query: EntityQuery) -> bool:
    """Whether the page came from the walk of the numbers' index."""
    return any("FROM attrs o CROSS JOIN" in sql for sql in traced(store, query)) and any(
        "UNION SELECT ent, 0 AS exact FROM attrs_multi" in sql for sql in traced(store, query)
    )


ORDERS = [
    (OrderTerm(f"{NS}speed"),),
    (OrderTerm(f"{NS}speed", direction="desc"),),
    (OrderTerm(f"{NS}speed"), OrderTerm(f"{NS}name", direction="desc")),
    (OrderTerm(f"{NS}speed", direction="desc"), OrderTerm("id", direction="desc")),
    (OrderTerm(f"{NS}speed", members=(f"{NS}accuracy",)),),
    (OrderTerm(f"{NS}speed", keys=("k",), direction="desc"),),
]
FILTERS: list[dict[str, Any]] = [
    {},
    {"types": TypeName(f"{NS}Car")},
    {"q": q('name=="v3"|name=="v4"')},
    {"q": q("speed<20")},
]


@pytest.mark.parametrize("order", ORDERS, ids=range(len(ORDERS)))
async def test_pages_driven_by_the_numbers_are_the_pages_of_the_whole_ordering(
    store: SqliteEntityStore, order: tuple[OrderTerm, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [
        EntityQuery(order=order, limit=limit, offset=offset, **where)
        for where in FILTERS
        for limit, offset in [(1, 0), (7, 0), (20, 13), (50, 100), (100, 480)]
    ]
    pages = [page(store, query) for query in cases]
    used = [driven(store, query) for query in cases]
    monkeypatch.setattr(sqlite_store, "order_driver", lambda *_: None)
    for query, got in zip(cases, pages, strict=True):
        assert got == page(store, query), query
    # the walk ran wherever the numbers reach the page's end, and only there
    if not order[0].keys:
        assert any(used[:3])
        assert not used[4]  # 580 of 600: the page reaches past the numbers


async def test_a_page_past_the_numbers_is_ordered_as_before(store: SqliteEntityStore) -> None:
    query = EntityQuery(order=(OrderTerm(f"{NS}speed"),), limit=100, offset=520)
    assert not driven(store, query)
    assert len(page(store, query)) == 80


async def test_orderby_id_walks_the_id_index_either_way(store: SqliteEntityStore) -> None:
    ids = sorted(page(store, EntityQuery(limit=1000)))
    down = EntityQuery(order=(OrderTerm("id", direction="desc"),), limit=5, offset=3)
    assert page(store, down) == ids[::-1][3:8]
    plan = [
        row[3]
        for sql in traced(store, down)
        if "ORDER BY" in sql
        for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}")
    ]
    assert not any("TEMP B-TREE" in step for step in plan), plan
