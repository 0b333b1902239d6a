"""`/types` and `/attributes` on PostgreSQL come from the changes its writes record
(`store/postgres/summary.py`): after any mix of creates, updates and deletes, in any tenant,
folded or not, they must say what counting the attribute index's rows says."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from dalgu.query.ast import TypeName
from dalgu.store.base import AttributeInfo, EntityQuery, TypeInfo
from dalgu.store.postgres import PostgresEntityStore, summary
from tests.store.entity_changes import TYPES, batches, write_mixed

# what the store answered before the changes were recorded: the index's rows counted
_TYPE_COUNTS = """
SELECT t.type, count(*) FROM entities e CROSS JOIN unnest(e.types) AS t(type)
WHERE e.tenant = $1 GROUP BY t.type
"""
_COUNTED = """
SELECT e.types, k.name, a.txt, count(*)
FROM attr_keys k
JOIN attr_txt a ON a.nid = k.nid AND a.kind = '#'
JOIN entities e ON e.ent = a.ent
WHERE k.tenant = $1 AND k.path = '#'
GROUP BY e.types, k.name, a.txt
"""


async def counted(store: PostgresEntityStore, tenant: str) -> tuple[Any, Any]:
    counts = dict(await store.pool.fetch(_TYPE_COUNTS, tenant))
    rows = await store.pool.fetch(_COUNTED, tenant)
    names: dict[str, dict[str, set[str]]] = {t: {} for t in counts}
    attributes: dict[str, tuple[list[int], set[str], set[str]]] = {}
    for types, name, kind, count in rows:
        for type_name in types:
            names[type_name].setdefault(name, set()).add(kind)
        total, kinds, type_names = attributes.setdefault(name, ([0], set(), set()))
        total[0] += count
        kinds.add(kind)
        type_names.update(types)
    return (
        [
            TypeInfo(t, counts[t], {n: frozenset(k) for n, k in names[t].items()})
            for t in sorted(counts)
        ],
        [
            AttributeInfo(n, total[0], frozenset(kinds), frozenset(type_names))
            for n, (total, kinds, type_names) in sorted(attributes.items())
        ],
    )


@pytest_asyncio.fixture
async def store(dsn: str) -> AsyncIterator[PostgresEntityStore]:
    s = PostgresEntityStore(dsn, pool_size=2)
    await s.open()
    yield s
    await s.close()


async def agree(store: PostgresEntityStore, tenants: list[str]) -> None:
    for tenant in tenants:
        types, attributes = await counted(store, tenant)
        assert await store.types(tenant) == types
        assert await store.attributes(tenant) == attributes
        # a count by type alone comes from the same kept counts
        counts = {t.type: t.entity_count for t in await store.types(tenant)}
        for name in TYPES:
            query = EntityQuery(types=TypeName(name), limit=0, count=True)
            assert (await store.query(tenant, query)).count == counts.get(name, 0)


@pytest.mark.parametrize("dsn", ["postgres"], indirect=True)
@pytest.mark.parametrize("seed", [1, 2])
async def test_types_and_attributes_agree_with_the_index_after_any_writes(
    store: PostgresEntityStore, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary, "FOLD_EVERY", 7)  # folds amid the writes, not only at reads
    monkeypatch.setattr(summary, "FOLD_AT", 10**9)
    await write_mixed(store, seed, 100, lambda tenants: agree(store, tenants))
    # folded: no more rows of changes than keys, bar the writes since the last fold
    keys = await store.pool.fetchval(
        "SELECT count(*) FROM (SELECT DISTINCT tenant, what, type, name, kind "
        "FROM summary_changes) AS k"
    )
    rows = await store.pool.fetchval("SELECT count(*) FROM summary_changes")
    assert rows < keys + 7 * 40


@pytest.mark.parametrize("dsn", ["postgres"], indirect=True)
async def test_a_read_folds_many_rows_of_changes(
    store: PostgresEntityStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary, "FOLD_EVERY", 10**9)
    monkeypatch.setattr(summary, "FOLD_AT", 50)
    for tenant, batch in batches(random.Random(5), [""], 60):
        await store.mutate(tenant, batch)
    before = await store.pool.fetchval("SELECT count(*) FROM summary_changes")
    await agree(store, [""])  # the first read folds, and answers what it summed
    after = await store.pool.fetchval("SELECT count(*) FROM summary_changes")
    assert before > 50 and after < before
    await agree(store, [""])


@pytest.mark.parametrize("dsn", ["postgres"], indirect=True)
async def test_the_migration_counts_what_a_database_holds(store: PostgresEntityStore) -> None:
    """An existing database gains its changes from its rows: the migration's three INSERTs,
    run on a database whose changes were never recorded, give the same answers."""
    from dalgu.store.postgres.schema import MIGRATIONS

    for tenant, batch in batches(random.Random(9), ["", "other"], 40):
        await store.mutate(tenant, batch)
    [script] = [m for m in MIGRATIONS if isinstance(m, str) and "CREATE TABLE summary_changes" in m]
    backfill = [s for s in script.split(";") if s.strip().startswith("INSERT")]
    assert len(backfill) == 3
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM summary_changes")
        for statement in backfill:
            await conn.execute(statement)
    await agree(store, ["", "other"])
