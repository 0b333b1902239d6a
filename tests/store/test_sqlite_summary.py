"""`/types` and `/attributes` on the embedded store come from counts its writes keep
(`store/sqlite/summary.py`): after any mix of creates, updates and deletes, in any tenant, they
must say what counting the attribute index's rows says."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dalgu.broker.mutations import create
from dalgu.query.ast import TypeName
from dalgu.store.base import AttributeInfo, EntityQuery, TypeInfo
from dalgu.store.sqlite import SqliteEntityStore
from tests.store.entity_changes import TYPES, entity, put, write_mixed
from tests.store.old_schema import write_before
from tests.store.test_sqlite_store import store  # an empty store in a fresh file


def counted_types(db: sqlite3.Connection, tenant: str) -> list[TypeInfo]:
    """What the store answered before the counts were kept: the index's rows counted."""
    counts = dict(
        db.execute(
            "SELECT type, count(*) FROM entity_types WHERE tenant = ? GROUP BY type", (tenant,)
        )
    )
    attributes: dict[str, dict[str, set[str]]] = {t: {} for t in counts}
    for type_name, name, kind in db.execute(
        "SELECT DISTINCT t.type, a.name, a.txt FROM entity_types t "
        "JOIN attrs a ON a.ent = t.ent AND a.path = '#' WHERE t.tenant = ?",
        (tenant,),
    ):
        attributes[type_name].setdefault(name, set()).add(kind)
    return [
        TypeInfo(t, counts[t], {n: frozenset(k) for n, k in attributes[t].items()})
        for t in sorted(counts)
    ]


def counted_attributes(db: sqlite3.Connection, tenant: str) -> list[AttributeInfo]:
    info: dict[str, tuple[int, set[str], set[str]]] = {}
    for name, count, kinds in db.execute(
        "SELECT name, count(*), group_concat(DISTINCT txt) FROM attrs "
        "WHERE tenant = ? AND path = '#' GROUP BY name",
        (tenant,),
    ):
        info[name] = (count, set(kinds.split(",")), set())
    for name, type_name in db.execute(
        "SELECT DISTINCT a.name, t.type FROM attrs a JOIN entity_types t ON t.ent = a.ent "
        "WHERE a.tenant = ? AND a.path = '#'",
        (tenant,),
    ):
        info[name][2].add(type_name)
    return [
        AttributeInfo(n, c, frozenset(k), frozenset(t)) for n, (c, k, t) in sorted(info.items())
    ]


async def agree(store: SqliteEntityStore, tenants: list[str]) -> None:
    for tenant in tenants:
        assert await store.types(tenant) == counted_types(store.db, tenant)
        assert await store.attributes(tenant) == counted_attributes(store.db, tenant)
        # a count by type alone comes from the same kept counts
        counts = {t.type: t.entity_count for t in await store.types(tenant)}
        for name in TYPES:
            query = EntityQuery(types=TypeName(name), limit=0, count=True)
            assert (await store.query(tenant, query)).count == counts.get(name, 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_types_and_attributes_agree_with_the_index_after_any_writes(
    store: SqliteEntityStore, seed: int
) -> None:
    await write_mixed(store, seed, 120, lambda tenants: agree(store, tenants))
    assert any(t.entity_count for t in await store.types(""))


async def test_an_entity_written_twice_in_one_batch_counts_once(store: SqliteEntityStore) -> None:
    rng = random.Random(7)
    first, second = entity(rng, 1), {**entity(rng, 1), "type": [TYPES[2]]}
    await store.mutate("", [(first["id"], create(first)), (first["id"], put(second))])
    await agree(store, [""])
    [tram] = await store.types("")
    assert tram.type == TYPES[2] and tram.entity_count == 1


async def test_an_existing_database_gains_the_counts(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "old.db"
    rng = random.Random(11)
    docs = [entity(rng, n) for n in range(40)]
    await write_before(path, "type_attributes", docs, monkeypatch)
    store = SqliteEntityStore(path)
    await store.open()
    try:
        await agree(store, [""])
        assert sum(t.entity_count for t in await store.types("")) >= len(docs)
    finally:
        await store.close()


__all__ = ["store"]
