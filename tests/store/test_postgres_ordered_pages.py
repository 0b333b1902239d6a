"""Pages of an `orderBy` on numbers or strings on PostgreSQL, from value indexes read in order
(`store/postgres/ordered.py`): the same pages as ordering every match, which the store does
with the candidates off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from dalgu.broker.mutations import create
from dalgu.query.order import OrderTerm
from dalgu.store.base import EntityQuery
from dalgu.store.postgres import PostgresEntityStore, ordered
from dalgu.store.postgres import store as postgres_store
from tests.store.ordered_entities import ORDERS, TEXT_ORDERS, cases, creates
from tests.store.test_sqlite_query_plan import NS


@pytest_asyncio.fixture
async def store(dsn: str) -> AsyncIterator[PostgresEntityStore]:
    s = PostgresEntityStore(dsn, pool_size=2)
    await s.open()
    await s.mutate("", creates())
    yield s
    await s.close()


async def page(store: PostgresEntityStore, query: EntityQuery) -> list[str]:
    return [e["id"] for e in (await store.query("", query)).entities]


def recording(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each query since had candidates from the numbers' index, in order."""
    used: list[bool] = []
    real = ordered.page_candidates

    async def recorded(*args: Any) -> str | None:
        found = await real(*args)
        used.append(found is not None)
        return found

    monkeypatch.setattr(postgres_store, "page_candidates", recorded)
    return used


@pytest.mark.slow
@pytest.mark.parametrize("dsn", ["postgres"], indirect=True)
@pytest.mark.parametrize("order", ORDERS + TEXT_ORDERS, ids=range(len(ORDERS + TEXT_ORDERS)))
async def test_pages_from_an_index_are_the_pages_of_the_whole_ordering(
    store: PostgresEntityStore, order: tuple[OrderTerm, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = cases(order)
    used = recording(monkeypatch)
    pages = [await page(store, query) for query in queries]

    async def none(*_: Any) -> None:
        return None

    monkeypatch.setattr(postgres_store, "page_candidates", none)
    for query, got in zip(queries, pages, strict=True):
        assert got == await page(store, query), query
    # the index was read wherever the numbers (the strings) reach the page's end, and only there
    if not order[0].keys:
        assert all(used[:4]) if order in TEXT_ORDERS else any(used[:3]), used
        assert not used[4]  # 580 of 600: the page reaches past them


@pytest.mark.parametrize("dsn", ["postgres"], indirect=True)
async def test_an_ordering_in_another_collation_is_not_read_from_the_root_s_index(
    store: PostgresEntityStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    used = recording(monkeypatch)
    root = EntityQuery(order=TEXT_ORDERS[0], limit=60)  # past the few numbers, among strings
    assert len(await page(store, root)) == 60 and used == [True]
    swedish = EntityQuery(order=TEXT_ORDERS[0], limit=60, collation="sv")
    assert len(await page(store, swedish)) == 60 and used == [True, False]


@pytest.mark.parametrize("dsn", ["postgres"], indirect=True)
async def test_rows_read_again_when_entities_hold_several_numbers(
    store: PostgresEntityStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every vehicle holds three numbers: the first rows read name fewer entities than the
    page needs, and the index is read further, not given up."""
    many = [
        {
            "id": f"urn:ngsi-ld:Tram:{n:03d}",
            "type": [f"{NS}Tram"],
            "createdAt": "2026-12-06T04:00:00.000Z",
            "modifiedAt": "2026-12-06T04:00:00.000Z",
            f"{NS}speed": [{"type": "Property", "value": [n % 9, n % 9 + 1, n % 9 + 2]}],
        }
        for n in range(40)
    ]
    await store.mutate("t2", [(e["id"], create(e)) for e in many])
    query = EntityQuery(order=(OrderTerm(f"{NS}speed"),), limit=10, offset=5)
    got = [e["id"] for e in (await store.query("t2", query)).entities]
    expected = sorted((n % 9, f"urn:ngsi-ld:Tram:{n:03d}") for n in range(40))[5:15]
    assert got == [i for _, i in expected]
    reads = recording(monkeypatch)
    await store.query("t2", query)
    assert reads == [True]
