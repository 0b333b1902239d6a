"""A `q` on one path's numbers driven from PostgreSQL's value index (`store/postgres/ranges.py`)
and the record of entities holding several values it relies on (`attr_multi`)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dalgu.broker.mutations import create
from dalgu.query.ast import TypeName
from dalgu.store.base import EntityQuery
from dalgu.store.postgres import PostgresEntityStore, ranges
from dalgu.store.postgres import store as postgres_store
from dalgu.store.postgres.schema import MIGRATIONS
from tests.store.entity_changes import batches, write_mixed
from tests.store.ordered_entities import creates
from tests.store.test_postgres_summary import store  # an empty store in a fresh database
from tests.store.test_sqlite_query_plan import NS, q

# what attr_multi must hold: the (nid, entity) pairs with more than one value row
_RECOUNTED = """
SELECT nid, ent FROM (
    SELECT ent, nid FROM attr_num UNION ALL SELECT ent, nid FROM attr_txt WHERE kind <> '#'
) AS r GROUP BY nid, ent HAVING count(*) > 1 ORDER BY nid, ent
"""


async def recorded(store: PostgresEntityStore) -> list[tuple[Any, ...]]:
    rows = await store.pool.fetch("SELECT nid, ent FROM attr_multi ORDER BY nid, ent")
    return [tuple(r) for r in rows]


async def recounted(store: PostgresEntityStore) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await store.pool.fetch(_RECOUNTED)]


@pytest.mark.parametrize("dsn", ["postgres"], indirect=True)
@pytest.mark.parametrize("seed", [3, 4])
async def test_the_record_of_several_values_follows_any_writes(
    store: PostgresEntityStore, seed: int
) -> None:
    """Creates, replaces (an attribute's instances added, dropped, changed in kind) and
    deletes, in two tenants: the record is always what the index's rows say."""

    async def agree(_: list[str]) -> None:
        assert await recorded(store) == await recounted(store)

    await write_mixed(store, seed, 120, agree)
    assert await recorded(store)  # the mix made some


@pytest.mark.parametrize("dsn", ["postgres"], indirect=True)
async def test_the_migration_records_what_a_database_holds(store: PostgresEntityStore) -> None:
    for tenant, batch in batches(random.Random(5), ["", "other"], 40):
        await store.mutate(tenant, batch)
    kept = await recorded(store)
    [script] = [m for m in MIGRATIONS if isinstance(m, str) and "CREATE TABLE attr_multi" in m]
    [backfill] = [s for s in script.split(";") if s.strip().startswith("INSERT")]
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM attr_multi")
        await conn.execute(backfill)
    assert kept and await recorded(store) == kept


QUERIES = ["speed>=10;speed<12", "speed==5", "speed==3..4", "speed<2", "speed>28.5", "speed>=0"]


@pytest.mark.parametrize("dsn", ["postgres"], indirect=True)
async def test_pages_from_the_numbers_are_the_pages_of_the_walk(
    store: PostgresEntityStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vehicles whose `speed` is absent, a string, a boolean, an object, an array of numbers,
    two instances, a number and a boolean, or one number: every page as the walk gives it."""
    await store.mutate("", creates())
    cases = [
        EntityQuery(q=q(text), limit=limit, offset=offset, **where)
        for text in QUERIES
        for where in ({}, {"types": TypeName(f"{NS}Car")})
        for limit, offset in [(1, 0), (10, 0), (7, 5), (100, 0)]
    ]
    used: list[bool] = []
    real = ranges.range_page

    async def recording(*args: Any) -> Any:
        found = await real(*args)
        used.append(found is not None)
        return found

    monkeypatch.setattr(postgres_store, "range_page", recording)
    pages = [[e["id"] for e in (await store.query("", query)).entities] for query in cases]

    async def walk(*_: Any) -> None:
        return None

    monkeypatch.setattr(postgres_store, "range_page", walk)
    for query, got in zip(cases, pages, strict=True):
        expected = [e["id"] for e in (await store.query("", query)).entities]
        assert got == expected, query
    assert any(pages) and all(used[:8])  # the narrow range was driven
    assert not any(used[-8:])  # speed>=0: most rows are in range, the walk is quicker


@pytest.mark.parametrize("dsn", ["postgres"], indirect=True)
async def test_a_kept_range_count_is_reused_and_its_pages_stay_those_of_the_walk(
    store: PostgresEntityStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe's count is kept two seconds: the same query asks it once. Vehicles written
    meanwhile into the range are in the next page all the same (every condition is tested on
    every candidate); once the count has aged, it is asked again."""
    await store.mutate("", creates())
    query = EntityQuery(q=q("speed>=10;speed<12"), limit=20)
    kept = store._range_counts._kept.entries  # what was probed, and when
    await store.query("", query)
    assert len(kept) == 1
    probed = dict(kept)
    [((_, rows), _)] = probed.values()
    added = [(f"urn:ngsi-ld:Vehicle:000000-new-{n}", create_vehicle(n)) for n in range(30)]
    await store.mutate("", added)
    page = [e["id"] for e in (await store.query("", query)).entities]
    assert kept == probed  # not asked again
    assert page == sorted(entity_id for entity_id, _ in added)[:20]

    async def walk(*_: Any) -> None:
        return None

    with monkeypatch.context() as patched:
        patched.setattr(postgres_store, "range_page", walk)
        assert page == [e["id"] for e in (await store.query("", query)).entities]
    monkeypatch.setattr(ranges.RangeCounts, "KEEP", 0.0)
    await store.query("", query)
    [((_, recounted), _)] = kept.values()
    assert recounted == rows + 30


def create_vehicle(n: int) -> Any:
    return create(
        {
            "id": f"urn:ngsi-ld:Vehicle:000000-new-{n}",
            "type": [f"{NS}Car"],
            "createdAt": "2026-01-01T00:00:00.000Z",
            "modifiedAt": "2026-01-01T00:00:00.000Z",
            f"{NS}speed": [{"type": "Property", "value": 10.5}],
        }
    )


__all__ = ["store"]
