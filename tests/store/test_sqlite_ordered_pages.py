"""Pages of an `orderBy` on numbers or strings driven from the value index
(`store/sqlite/ordered.py`): the same pages as ordering every match, which the store does with
the driver off."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from dalgu.query.order import OrderTerm
from dalgu.store.base import EntityQuery
from dalgu.store.sqlite import SqliteEntityStore
from dalgu.store.sqlite import store as sqlite_store
from dalgu.store.sqlite.collation_prefix import string_prefix
from tests.store.old_schema import write_before
from tests.store.ordered_entities import ORDERS, TEXT_ORDERS, cases, creates, entities
from tests.store.test_sqlite_query_plan import NS, traced


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEntityStore]:
    s = SqliteEntityStore(tmp_path / "dalgu.db")
    await s.open()
    await s.mutate("", creates())
    yield s
    await s.close()


def page(store: SqliteEntityStore, query: EntityQuery) -> list[str]:
    store.db.execute("BEGIN")
    try:
        return [e["id"] for e in store._query("", query).entities]
    finally:
        store.db.execute("COMMIT")


def driven(store: SqliteEntityStore, query: EntityQuery) -> bool:
    """Whether the page came from the walk of the numbers' or the strings' index."""
    return any("FROM attrs o CROSS JOIN" in sql for sql in traced(store, query)) and any(
        "UNION SELECT ent, 0 AS exact FROM attrs_multi" in sql for sql in traced(store, query)
    )


@pytest.mark.parametrize("order", ORDERS + TEXT_ORDERS, ids=range(len(ORDERS + TEXT_ORDERS)))
async def test_driven_pages_are_the_pages_of_the_whole_ordering(
    store: SqliteEntityStore, order: tuple[OrderTerm, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = cases(order)
    pages = [page(store, query) for query in queries]
    used = [driven(store, query) for query in queries]
    monkeypatch.setattr(sqlite_store, "order_driver", lambda *_: None)
    for query, got in zip(queries, pages, strict=True):
        assert got == page(store, query), query
    # the walk ran wherever the numbers (the strings) reach the page's end, and only there
    if not order[0].keys:
        assert all(used[:4]) if order in TEXT_ORDERS else any(used[:3]), used
        assert not used[4]  # 580 of 600: the page reaches past them


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


async def test_an_existing_database_gains_its_strings_prefixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    await write_before(path, "collation_prefix", entities(), monkeypatch)
    with sqlite3.connect(path) as old:  # as the store before it wrote them: no prefix
        old.execute("UPDATE attrs SET num = NULL WHERE kind = 's'")
    store = SqliteEntityStore(path)
    await store.open()
    try:
        rows = store.db.execute(
            "SELECT txt, num FROM attrs WHERE kind = 's' AND path NOT LIKE '.%'"
        ).fetchall()
        assert len(rows) > 400 and all(num == string_prefix(txt) for txt, num in rows)
        query = EntityQuery(order=TEXT_ORDERS[0], limit=20, offset=13)
        assert driven(store, query)
        got = page(store, query)
        monkeypatch.setattr(sqlite_store, "order_driver", lambda *_: None)
        assert got == page(store, query)
    finally:
        await store.close()
