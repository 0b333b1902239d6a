"""How an entity change records its history on PostgreSQL (`postgres/temporal.py`,
`postgres/rollups.py`): which rows of `temporal_entities` it writes, and how it adds its
instances to the hourly rollups when another transaction writes the same hours meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from dalgu.broker.mutations import create, delete, edit, replace
from dalgu.errors import AlreadyExists
from dalgu.query.ast import TypeName, map_names
from dalgu.query.q import parse_q
from dalgu.query.scope import parse_scope_query
from dalgu.settings import Settings
from dalgu.store.base import Change, Entity, EntityQuery
from dalgu.store.factory import open_store
from dalgu.store.postgres import PostgresEntityStore
from tests.store.test_postgres_store import dsn, store  # one scratch database per module

__all__ = ["dsn", "store"]

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio(loop_scope="session")]

NS = "https://example.org/ns/"
TEMP = NS + "temperature"
HOUR = datetime(2026, 1, 1, 10, tzinfo=UTC)


@pytest_asyncio.fixture(loop_scope="session")
async def conn(dsn: str) -> AsyncIterator[Any]:
    c = await asyncpg.connect(dsn)
    yield c
    await c.close()


@pytest.fixture
def tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:10]}"


def sensor(n: int, value: float, minute: int, *types: str) -> Entity:
    return {
        "id": f"urn:ngsi-ld:Sensor:{n}",
        "type": [NS + t for t in types or ("Sensor",)],
        "createdAt": "2026-01-01T00:00:00.000Z",
        "modifiedAt": "2026-01-01T00:00:00.000Z",
        TEMP: [
            {
                "type": "Property",
                "value": value,
                "observedAt": f"2026-01-01T10:{minute:02d}:00.000Z",
            }
        ],
    }


async def put(store: PostgresEntityStore, tenant: str, *entities: Entity) -> None:
    outcomes = await store.mutate(
        tenant, [(e["id"], replace(e, must_exist=False)) for e in entities]
    )
    assert all(isinstance(o, Change) for o in outcomes)


async def touched_row(conn: Any, tenant: str, entity_id: str) -> Any:
    return await conn.fetchrow(
        "SELECT types, deleted_at IS NOT NULL AS deleted, xmin::text AS xmin, "
        "xmax::text AS xmax FROM temporal_entities WHERE tenant = $1 AND id = $2",
        tenant,
        entity_id,
    )


async def hour_of(conn: Any, tenant: str, entity_id: str) -> tuple[int, float, float, float]:
    row = await conn.fetchrow(
        "SELECT count_all, sum_num, min_num, max_num FROM instance_hours "
        "WHERE tenant = $1 AND entity_id = $2 AND name = $3 AND hour = $4",
        tenant,
        entity_id,
        TEMP,
        HOUR,
    )
    return (row["count_all"], row["sum_num"], row["min_num"], row["max_num"])


async def test_readings_leave_the_history_entity_row_unwritten(
    store: PostgresEntityStore, conn: Any, tenant: str
) -> None:
    """A batch of new readings changes neither the types nor the deletion of its entities:
    their `temporal_entities` rows are neither rewritten nor locked (no new xmin, no xmax)."""
    await put(store, tenant, sensor(1, 20.0, 0))
    first = await touched_row(conn, tenant, "urn:ngsi-ld:Sensor:1")
    assert first["types"] == [NS + "Sensor"] and not first["deleted"]
    for minute in range(1, 4):
        await put(store, tenant, sensor(1, 20.0 + minute, minute))
    again = await touched_row(conn, tenant, "urn:ngsi-ld:Sensor:1")
    assert (again["xmin"], again["xmax"]) == (first["xmin"], "0")


async def test_type_changes_deletion_and_return_still_reach_the_history_entity(
    store: PostgresEntityStore, conn: Any, tenant: str
) -> None:
    entity_id = "urn:ngsi-ld:Sensor:1"
    await put(store, tenant, sensor(1, 20.0, 0))
    await put(store, tenant, sensor(1, 21.0, 1, "Sensor", "Thermometer"))
    row = await touched_row(conn, tenant, entity_id)
    assert row["types"] == [NS + "Sensor", NS + "Thermometer"] and not row["deleted"]
    [outcome] = await store.mutate(tenant, [(entity_id, delete(entity_id))])
    assert isinstance(outcome, Change)
    assert (await touched_row(conn, tenant, entity_id))["deleted"]
    await put(store, tenant, sensor(1, 22.0, 2))
    row = await touched_row(conn, tenant, entity_id)
    assert row["types"] == [NS + "Sensor"] and not row["deleted"]
    # another tenant's entity of the same id has a history row of its own
    other = f"{tenant}-other"
    await put(store, other, sensor(1, 5.0, 0, "Other"))
    assert (await touched_row(conn, other, entity_id))["types"] == [NS + "Other"]
    assert (await touched_row(conn, tenant, entity_id))["types"] == [NS + "Sensor"]


async def test_hours_add_up_over_batches(
    store: PostgresEntityStore, conn: Any, tenant: str
) -> None:
    await put(store, tenant, sensor(1, 20.0, 0), sensor(2, 1.0, 0))
    await put(store, tenant, sensor(1, 30.0, 10), sensor(2, 2.0, 10))
    await put(store, tenant, sensor(1, 10.0, 20))
    assert await hour_of(conn, tenant, "urn:ngsi-ld:Sensor:1") == (3, 60.0, 10.0, 30.0)
    assert await hour_of(conn, tenant, "urn:ngsi-ld:Sensor:2") == (2, 3.0, 1.0, 2.0)


@pytest.mark.parametrize("other_write", ["insert", "update"])
async def test_hours_another_transaction_writes_meanwhile_add_up(
    store: PostgresEntityStore, conn: Any, tenant: str, other_write: str
) -> None:
    """The hour a batch adds to is inserted, or updated, by another transaction that commits
    while the batch waits for it: the batch's instances are added to that transaction's row,
    not lost and not counted twice."""
    entity_id = "urn:ngsi-ld:Sensor:1"
    if other_write == "update":
        await put(store, tenant, sensor(1, 20.0, 0))  # the hour exists: 1 instance, 20
    tr = conn.transaction()
    await tr.start()
    try:
        if other_write == "insert":
            await conn.execute(
                "INSERT INTO instance_hours (tenant, entity_id, name, hour, dataset, count_all, "
                "count_num, sum_num, sumsq_num, min_num, max_num) "
                "VALUES ($1, $2, $3, $4, '', 1, 1, 20, 400, 20, 20)",
                tenant,
                entity_id,
                TEMP,
                HOUR,
            )
        else:
            await conn.execute(
                "UPDATE instance_hours SET count_all = count_all + 5, count_num = count_num + 5,"
                " sum_num = sum_num + 5, min_num = least(min_num, 1), max_num = max_num "
                "WHERE tenant = $1 AND entity_id = $2",
                tenant,
                entity_id,
            )
        batch = asyncio.ensure_future(put(store, tenant, sensor(1, 40.0, 30)))
        await asyncio.sleep(0.5)
        assert not batch.done()  # it waits for the other transaction's row
    finally:
        await tr.commit()
    await asyncio.wait_for(batch, 10)
    expected = (2, 60.0, 20.0, 40.0) if other_write == "insert" else (7, 65.0, 1.0, 40.0)
    assert await hour_of(conn, tenant, entity_id) == expected
    rows = await conn.fetchval(
        "SELECT count(*) FROM instance_hours WHERE tenant = $1 AND entity_id = $2",
        tenant,
        entity_id,
    )
    assert rows == 1


async def test_one_batch_updates_readings_types_and_scopes_together(
    store: PostgresEntityStore, tenant: str
) -> None:
    """An update that keeps its types and scopes writes only the document and times; one that
    changes them, in the same batch, writes them too."""
    plain = sensor(1, 20.0, 0)
    moved = {**sensor(2, 20.0, 0), "scope": ["/a/b"]}
    await put(store, tenant, plain, moved)
    newer = {**sensor(1, 21.0, 1), "modifiedAt": "2026-01-02T00:00:00.000Z"}
    retyped = {**sensor(2, 22.0, 1, "Sensor", "Thermometer"), "scope": ["/c"]}
    await put(store, tenant, newer, retyped)
    assert await store.get(tenant, newer["id"]) == newer
    assert await store.get(tenant, retyped["id"]) == retyped

    async def ids(**query: Any) -> list[str]:
        found = await store.query(tenant, EntityQuery(limit=100, **query))
        return sorted(e["id"] for e in found.entities)

    thermometer = TypeName(NS + "Thermometer")
    assert await ids(types=thermometer) == [retyped["id"]]
    assert await ids(types=TypeName(NS + "Sensor")) == [newer["id"], retyped["id"]]
    assert await ids(scope=parse_scope_query("/a/#")) == []
    assert await ids(scope=parse_scope_query("/c")) == [retyped["id"]]
    assert await ids(q=map_names(parse_q("temperature==21"), lambda n: NS + n)) == [newer["id"]]


@pytest.mark.parametrize("stores", [1, 2])
async def test_concurrent_batches_of_the_same_entities_lose_no_update(
    store: PostgresEntityStore, dsn: str, conn: Any, tenant: str, stores: int
) -> None:
    """Batches of one process that share entities queue before their transaction (the write
    gate); batches of two processes queue on the row locks. Either way each batch applies its
    change to the state the previous one left: every reading is in the document, the history
    and the hourly rollup."""
    ids = [f"urn:ngsi-ld:Sensor:{n}" for n in range(20)]
    await put(store, tenant, *(sensor(n, 0.0, 0) for n in range(20)))
    other = PostgresEntityStore(dsn, pool_size=4)
    await other.open()
    try:
        writers = [store, other][:stores]

        def reading(k: int) -> Any:
            def change(entity: Entity) -> None:
                entity[TEMP].append(
                    {
                        "type": "Property",
                        "value": float(k),
                        "observedAt": f"2026-01-01T10:{k:02d}:00.000Z",
                        "datasetId": f"urn:ngsi-ld:Dataset:{k}",
                    }
                )

            return change

        async def batch(k: int) -> None:
            outcomes = await writers[k % stores].mutate(
                tenant, [(i, edit(i, reading(k), "2026-01-02T00:00:00.000Z")) for i in ids]
            )
            assert all(isinstance(o, Change) for o in outcomes)

        await asyncio.gather(*(batch(k) for k in range(1, 13)))
    finally:
        await other.close()
    for entity_id in ids:
        entity = await store.get(tenant, entity_id)
        assert entity is not None
        assert sorted(i.get("datasetId", "") for i in entity[TEMP]) == sorted(
            ["", *(f"urn:ngsi-ld:Dataset:{k}" for k in range(1, 13))]
        )
    counts = await conn.fetch(
        "SELECT entity_id, sum(count_all)::int AS n, sum(sum_num) AS total FROM instance_hours "
        "WHERE tenant = $1 GROUP BY 1",
        tenant,
    )
    assert {(r["entity_id"], r["n"], r["total"]) for r in counts} == {
        (i, 13, float(sum(range(1, 13)))) for i in ids
    }
    stored = await conn.fetchval(
        "SELECT count(*) FROM instances WHERE tenant = $1 AND name = $2", tenant, TEMP
    )
    assert stored == 20 * 13


async def test_concurrent_batches_of_the_same_sensors_keep_every_reading_in_order(
    store: PostgresEntityStore, conn: Any, tenant: str
) -> None:
    """Batches of readings for the same sensors, sent at once (they wait for each other and
    are written together): every reading is in the history and the hourly rollups, each
    sensor ends with the last batch's reading, and a bad batch among them fails alone."""
    ids = [f"urn:ngsi-ld:Sensor:{n}" for n in range(10)]
    await put(store, tenant, *(sensor(n, 0.0, 0) for n in range(10)))

    def readings(minute: int) -> list[tuple[str, Any]]:
        return [(e["id"], replace(e)) for e in (sensor(n, minute, minute) for n in range(10))]

    def broken(before: Entity | None) -> Entity:
        raise ValueError("not a mutation the store can run")

    batches = [readings(minute) for minute in range(1, 7)]
    batches.insert(3, [(ids[0], broken)])
    results = await asyncio.gather(
        *(store.mutate(tenant, batch) for batch in batches), return_exceptions=True
    )
    assert isinstance(results[3], ValueError)
    for result in results[:3] + results[4:]:
        assert isinstance(result, list) and all(isinstance(o, Change) for o in result)
    for entity_id in ids:
        stored = await store.get(tenant, entity_id)
        assert stored is not None and stored[TEMP][0]["value"] == 6  # the last batch's
        assert await hour_of(conn, tenant, entity_id) == (7, 21.0, 0.0, 6.0)
        values = await conn.fetch(
            "SELECT num FROM instances WHERE tenant = $1 AND entity_id = $2 ORDER BY at",
            tenant,
            entity_id,
        )
        assert [row["num"] for row in values] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


@pytest.mark.parametrize("made", ["one connection", "settings"])
async def test_single_writes_at_once_share_transactions_and_each_is_answered_alone(
    dsn: str, conn: Any, tenant: str, made: str
) -> None:
    """Group commit: 40 single-entity creates sent at once, with one transaction allowed at a
    time, are written in a few transactions (rows written together carry the same `xmin`);
    each caller gets its own outcome, and a create of an entity that exists fails alone. A
    mutation that raises fails alone too (its group is then written batch by batch). One
    transaction at a time: a pool of one connection, or `postgres_write_transactions = 1`."""
    if made == "settings":
        settings = Settings(
            store="postgres", postgres_dsn=dsn, postgres_pool_size=4, postgres_write_transactions=1
        )
        one = open_store(settings)
        assert isinstance(one, PostgresEntityStore)
    else:
        one = PostgresEntityStore(dsn, pool_size=1)
    await one.open()

    def broken(before: Entity | None) -> Entity:
        raise ValueError("not a mutation the store can run")

    async def at_once(writes: list[list[tuple[str, Any]]]) -> list[Any]:
        return await asyncio.gather(
            *(one.mutate(tenant, w) for w in writes), return_exceptions=True
        )

    def created(n: int) -> list[tuple[str, Any]]:
        return [(f"urn:ngsi-ld:Sensor:{n}", create(sensor(n, n, 1)))]

    try:
        await put(one, tenant, sensor(0, 0.0, 0))
        results = await at_once([created(n) for n in range(40)])
        first = results[0]
        assert isinstance(first, list) and isinstance(first[0], AlreadyExists)
        again = await at_once([created(40), [("urn:ngsi-ld:Sensor:99", broken)], created(41)])
        assert isinstance(again[1], ValueError)
        for n, result in [*enumerate(results), (40, again[0]), (41, again[2])][1:]:
            assert isinstance(result, list) and len(result) == 1
            change = result[0]
            assert isinstance(change, Change) and change.entity_id == f"urn:ngsi-ld:Sensor:{n}"
            stored = await one.get(tenant, change.entity_id)
            assert stored is not None and stored[TEMP][0]["value"] == n
    finally:
        await one.close()
    transactions = await conn.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM instances WHERE tenant = $1 AND entity_id = "
        "ANY($2::text[])",
        tenant,
        [f"urn:ngsi-ld:Sensor:{n}" for n in range(1, 40)],
    )
    assert transactions <= 3  # the 39 that waited for the first create, together
    assert await conn.fetchval("SELECT count(*) FROM instances WHERE tenant = $1", tenant) == 42
