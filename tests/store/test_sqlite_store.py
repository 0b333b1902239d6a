"""The SQLite store's group commit: `mutate` calls and FHIR writes that arrive together share
one transaction, and each is still answered, and undone, on its own."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from dalgu.broker.mutations import create
from dalgu.errors import AlreadyExists
from dalgu.fhir.searchparams import index_rows
from dalgu.store.base import Change, Entity, FhirWrite, Mutation
from dalgu.store.sqlite import SqliteEntityStore, schema
from tests.store.old_schema import written_today

T0 = "2026-11-25T04:00:00.000Z"


def thing(n: int) -> Entity:
    return {
        "id": f"urn:ngsi-ld:Thing:{n}",
        "type": ["https://example.org/Thing"],
        "createdAt": T0,
        "modifiedAt": T0,
        "https://example.org/n": [{"type": "Property", "value": n}],
    }


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEntityStore]:
    s = SqliteEntityStore(tmp_path / "dalgu.db")
    await s.open()
    yield s
    await s.close()


def commits(store: SqliteEntityStore) -> list[int]:
    """Counts COMMIT statements run on the store's connection from now on."""
    seen: list[int] = []
    store.db.set_trace_callback(lambda sql: seen.append(1) if sql == "COMMIT" else None)
    return seen


async def test_concurrent_writes_share_one_commit(store: SqliteEntityStore) -> None:
    counted = commits(store)
    outcomes = await asyncio.gather(
        *(store.mutate("", [(thing(n)["id"], create(thing(n)))]) for n in range(20))
    )
    assert len(counted) == 1
    assert all(isinstance(o, Change) for (o,) in outcomes)
    assert len(await store.get_many("", [thing(n)["id"] for n in range(20)])) == 20


async def test_writes_arriving_over_a_few_turns_share_one_commit(
    store: SqliteEntityStore,
) -> None:
    """A request's body arrives a turn or two after the one before it: the commit waits while
    writes keep joining, so four requests staggered by a turn each cost one commit."""
    counted = commits(store)

    async def staggered(n: int) -> list[object]:
        for _ in range(n):
            await asyncio.sleep(0)
        return list(await store.mutate("", [(thing(n)["id"], create(thing(n)))]))

    outcomes = await asyncio.gather(*(staggered(n) for n in range(4)))
    assert len(counted) == 1
    assert all(isinstance(o, Change) for (o,) in outcomes)


async def test_a_steady_trickle_of_writes_is_still_committed_promptly(
    store: SqliteEntityStore,
) -> None:
    """The wait is bounded: a write that joins on every turn does not hold the first one back
    for ever, and a write alone is committed after one turn of looking."""
    counted = commits(store)
    first = asyncio.ensure_future(store.mutate("", [(thing(0)["id"], create(thing(0)))]))
    later = []
    while not first.done():
        assert len(later) < 12, "the first write was held back by the trickle"
        n = len(later) + 1
        later.append(asyncio.ensure_future(store.mutate("", [(thing(n)["id"], create(thing(n)))])))
        await asyncio.sleep(0)
    assert isinstance((await first)[0], Change)
    assert len(counted) == 1
    await asyncio.gather(*later)  # the writes queued meanwhile go in the next commit
    assert (
        len(await store.get_many("", [thing(n)["id"] for n in range(len(later) + 1)]))
        == len(later) + 1
    )


async def test_a_failing_call_undoes_only_its_own_items(store: SqliteEntityStore) -> None:
    def broken(current: Entity | None) -> Entity:
        raise ValueError("a bug, not a DalguError")

    first, second, third = await asyncio.gather(
        store.mutate("", [(thing(1)["id"], create(thing(1)))]),
        store.mutate("", [(thing(2)["id"], create(thing(2))), ("urn:x", broken)]),
        store.mutate("", [(thing(1)["id"], create(thing(1))), (thing(3)["id"], create(thing(3)))]),
        return_exceptions=True,
    )
    assert isinstance(first, list) and isinstance(first[0], Change)
    assert isinstance(second, ValueError)
    assert isinstance(third, list)
    assert isinstance(third[0], AlreadyExists) and isinstance(third[1], Change)
    found = await store.get_many("", [thing(n)["id"] for n in (1, 2, 3)])
    assert sorted(found) == [thing(1)["id"], thing(3)["id"]]


async def test_concurrent_writes_are_applied_in_order_as_one(store: SqliteEntityStore) -> None:
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    first, second, third = await asyncio.gather(
        store.mutate("", [(thing(1)["id"], create(thing(1)))]),
        store.mutate("", [(thing(1)["id"], create(thing(1)))]),
        store.mutate("", [(thing(2)["id"], create(thing(2)))]),
    )
    assert isinstance(first[0], Change)
    assert isinstance(second[0], AlreadyExists)  # it saw the first call's entity
    assert third == [Change(thing(2)["id"], None, thing(2))]
    # one read of the stored states, one commit: the three calls were applied as one
    assert sum(sql.startswith("SELECT ent, id, doc FROM entities") for sql in statements) == 1
    assert statements.count("COMMIT") == 1
    assert sorted(await store.get_many("", [thing(1)["id"], thing(2)["id"]])) == [
        thing(1)["id"],
        thing(2)["id"],
    ]


async def test_writes_of_other_tenants_in_one_commit_stay_apart(store: SqliteEntityStore) -> None:
    await asyncio.gather(
        store.mutate("a", [(thing(1)["id"], create(thing(1)))]),
        store.mutate("b", [(thing(2)["id"], create(thing(2)))]),
        store.mutate("a", [(thing(3)["id"], create(thing(3)))]),
    )
    assert sorted(await store.get_many("a", [thing(n)["id"] for n in (1, 2, 3)])) == [
        thing(1)["id"],
        thing(3)["id"],
    ]
    assert sorted(await store.get_many("b", [thing(n)["id"] for n in (1, 2, 3)])) == [
        thing(2)["id"]
    ]


async def test_a_write_is_answered_only_after_its_commit(store: SqliteEntityStore) -> None:
    pending = asyncio.ensure_future(store.mutate("", [(thing(1)["id"], create(thing(1)))]))
    await asyncio.sleep(0)
    assert not pending.done()
    other = sqlite3.connect(store.path)  # another reader sees nothing before the answer
    assert other.execute("SELECT count(*) FROM entities").fetchone() == (0,)
    await pending
    assert other.execute("SELECT count(*) FROM entities").fetchone() == (1,)
    other.close()


async def test_a_cancelled_write_is_not_applied(store: SqliteEntityStore) -> None:
    cancelled = asyncio.ensure_future(store.mutate("", [(thing(1)["id"], create(thing(1)))]))
    kept = asyncio.ensure_future(store.mutate("", [(thing(2)["id"], create(thing(2)))]))
    await asyncio.sleep(0)
    cancelled.cancel()
    await kept
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert sorted(await store.get_many("", [thing(1)["id"], thing(2)["id"]])) == [thing(2)["id"]]


async def test_writes_queued_at_close_are_committed(tmp_path: Path) -> None:
    store = SqliteEntityStore(tmp_path / "dalgu.db")
    await store.open()
    pending = asyncio.ensure_future(store.mutate("", [(thing(1)["id"], create(thing(1)))]))
    await asyncio.sleep(0)  # queued, its commit not yet run
    await store.close()
    assert (await pending)[0] == Change(thing(1)["id"], None, thing(1))
    await store.open()
    assert await store.get("", thing(1)["id"]) == thing(1)
    await store.close()


def observation_write(resource_id: str, *, must_create: bool = True) -> FhirWrite:
    resource = {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/p1"},
    }
    return FhirWrite(
        "Observation", resource_id, resource, index_rows(resource), "p1", must_create=must_create
    )


async def test_concurrent_fhir_writes_share_one_commit(store: SqliteEntityStore) -> None:
    counted = commits(store)
    results = await asyncio.gather(
        *(store.fhir_write([observation_write(f"o{n}")]) for n in range(20)),
        store.mutate("", [(thing(1)["id"], create(thing(1)))]),
    )
    assert len(counted) == 1
    assert [stored.id for (stored,) in results[:20]] == [f"o{n}" for n in range(20)]
    assert (await store.fhir_read("Observation", "o19")) is not None


async def test_a_failing_fhir_write_undoes_only_itself(store: SqliteEntityStore) -> None:
    await store.fhir_write([observation_write("o1")])
    first, failing, third = await asyncio.gather(
        store.fhir_write([observation_write("o2")]),
        store.fhir_write([observation_write("o3"), observation_write("o1")]),  # o1 exists
        store.fhir_write([observation_write("o4")]),
        return_exceptions=True,
    )
    assert isinstance(failing, AlreadyExists)
    assert isinstance(first, list) and isinstance(third, list)
    found = store.db.execute("SELECT id FROM fhir_resources ORDER BY id").fetchall()
    assert found == [("o1",), ("o2",), ("o4",)]  # nothing of the failed one, o3 included
    tokens = store.db.execute("SELECT count(DISTINCT rid) FROM fhir_token").fetchone()
    assert tokens == (3,)


NS = "https://example.org/"


def doc(n: int, **attrs: list[dict[str, object]]) -> Entity:
    entity: Entity = {"id": f"urn:ngsi-ld:Thing:{n}", "type": [f"{NS}Thing"]}
    entity.update({"createdAt": T0, "modifiedAt": T0})
    entity.update({f"{NS}{name}": instances for name, instances in attrs.items()})
    return entity


def point(lon: float, lat: float) -> list[dict[str, object]]:
    return [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}]


def index_of(store: SqliteEntityStore) -> dict[str, list[tuple[object, ...]]]:
    """Every index row, with entity numbers replaced by entity ids."""
    db = store.db
    ids = dict(db.execute("SELECT ent, id FROM entities"))
    return {
        "attrs": sorted(
            (ids[r[0]], *r[1:])
            for r in db.execute("SELECT ent, seq, tenant, name, path, kind, num, txt FROM attrs")
        ),
        "multi": sorted((ids[r[0]], *r[1:]) for r in db.execute("SELECT * FROM attrs_multi")),
        "types": sorted((ids[r[2]], r[0], r[1]) for r in db.execute("SELECT * FROM entity_types")),
        "scopes": sorted((ids[r[0]], r[1]) for r in db.execute("SELECT * FROM entity_scopes")),
        "geo": sorted(
            (ids[r[0]], r[1], r[2], r[3], r[4], r[5])
            for r in db.execute(
                "SELECT g.ent, g.name, r.minx, r.maxx, r.miny, r.maxy "
                "FROM geo g JOIN geo_rtree r ON r.gid = g.gid"
            )
        ),
        "orphans": list(
            db.execute("SELECT gid FROM geo_rtree WHERE gid NOT IN (SELECT gid FROM geo)")
        ),
    }


async def test_rewritten_entities_are_indexed_as_if_created_anew(
    store: SqliteEntityStore, tmp_path: Path
) -> None:
    def put(entity: Entity | None) -> Mutation:
        return lambda _: entity

    v = [{"type": "Property", "value": 1, "unitCode": "CEL"}]
    await store.mutate(
        "",
        [
            (doc(n)["id"], put(doc(n, a=v, b=[{"type": "Property", "value": [1, 2]}])))
            for n in range(5)
        ],
    )
    await store.mutate("", [(doc(5)["id"], put({**doc(5, where=point(128.6, 35.8))}))])
    changed = [
        # a value changes; one attribute goes, another comes before it
        (doc(0)["id"], put(doc(0, a=[{"type": "Property", "value": 2, "unitCode": "CEL"}]))),
        (doc(1)["id"], put(doc(1, z=[{"type": "Property", "value": "x"}], a=v))),
        # the same entity twice in one call: only the last state counts
        (doc(2)["id"], put(doc(2, a=[{"type": "Property", "value": 7}]))),
        (doc(2)["id"], put(doc(2, b=[{"type": "Property", "value": [3, 3, 3]}]))),
        # types, scopes, a geometry that moves, deleted then created again in one call
        (doc(3)["id"], put({**doc(3, a=v), "type": [f"{NS}Other"], "scope": ["/daegu"]})),
        (doc(4)["id"], put(None)),
        (doc(4)["id"], put(doc(4, where=point(1.0, 2.0)))),
        (doc(5)["id"], put(doc(5, where=point(128.7, 35.9)))),
        (doc(6)["id"], put(doc(6, a=v))),
        (doc(6)["id"], put(None)),
    ]
    await store.mutate("", changed)
    await store.mutate("", [(doc(3)["id"], put({**doc(3, a=v), "type": [f"{NS}Other"]}))])

    fresh = SqliteEntityStore(tmp_path / "fresh.db")
    await fresh.open()
    try:
        final = await store.get_many("", [doc(n)["id"] for n in range(7)])
        await fresh.mutate("", [(i, put(e)) for i, e in sorted(final.items())])
        assert index_of(store) == index_of(fresh)
        assert sorted(final) == [doc(n)["id"] for n in range(6)]
    finally:
        await fresh.close()


async def test_attributes_sent_again_unchanged_keep_their_rows_and_the_index_stays_right(
    store: SqliteEntityStore, tmp_path: Path
) -> None:
    def put(entity: Entity) -> Mutation:
        return lambda _: entity

    static = [{"type": "Property", "value": "Kia", "createdAt": T0, "modifiedAt": T0}]
    speed = [{"type": "Property", "value": 50, "unitCode": "KMH", "observedAt": T0}]
    await store.mutate("", [(doc(1)["id"], put(doc(1, brand=static, speed=speed)))])
    rows_before = index_of(store)["attrs"]
    later = "2026-11-25T05:00:00.000Z"
    # a fleet feed sends every attribute again: new modifiedAt everywhere, a new speed
    again = [{**static[0], "modifiedAt": later}]
    faster = [{"type": "Property", "value": 60, "unitCode": "KMH", "observedAt": later}]
    written: list[str] = []
    store.db.set_trace_callback(written.append)
    await store.mutate("", [(doc(1)["id"], put(doc(1, brand=again, speed=faster)))])
    store.db.set_trace_callback(None)
    rows_after = index_of(store)["attrs"]
    changed = sorted(set(rows_after) - set(rows_before))
    assert [(r[3], r[4], r[6], r[7]) for r in changed] == [
        (f"{NS}speed", "", 60.0, None),
        (f"{NS}speed", ".observedAt", None, "2026-11-25T05:00:00.000000Z"),
    ]
    assert sum(sql.startswith("INSERT OR REPLACE INTO attrs") for sql in written) == 2

    fresh = SqliteEntityStore(tmp_path / "fresh.db")
    await fresh.open()
    try:
        final = await store.get_many("", [doc(1)["id"]])
        await fresh.mutate("", [(i, put(e)) for i, e in final.items()])
        assert index_of(store) == index_of(fresh)
    finally:
        await fresh.close()


async def test_a_stream_of_readings_leaves_the_index_a_fresh_create_would_make(
    store: SqliteEntityStore, tmp_path: Path
) -> None:
    """Readings written in place (`changed_in_place`), mixed with members that come and go
    and values that become arrays, leave exactly the rows of the final states."""

    def put(entity: Entity) -> Mutation:
        return lambda _: entity

    rng = random.Random(7)
    values: list[object] = [1, 2.5, "low", "2026-11-25T05:00:00Z", True, None, [1, 2]]

    def reading() -> list[dict[str, object]]:
        made: dict[str, object] = {"type": "Property", "value": rng.choice(values)}
        for member, choices in (
            ("observedAt", ["2026-11-25T05:00:00Z", "2026-11-25T05:00:01.000Z"]),
            ("unitCode", ["CEL", "KMH"]),
            ("datasetId", ["urn:ngsi-ld:Dataset:a"]),
        ):
            if rng.random() < 0.8:
                made[member] = rng.choice(choices)
        return [made]

    ids = [doc(n)["id"] for n in range(4)]
    for _ in range(40):
        await store.mutate(
            "", [(doc(n)["id"], put(doc(n, a=reading(), b=reading()))) for n in range(4)]
        )
    fresh = SqliteEntityStore(tmp_path / "fresh.db")
    await fresh.open()
    try:
        final = await store.get_many("", ids)
        await fresh.mutate("", [(i, put(e)) for i, e in sorted(final.items())])
        assert index_of(store) == index_of(fresh)
    finally:
        await fresh.close()


async def test_values_changing_kind_in_place_and_moved_geometries_are_indexed_right(
    store: SqliteEntityStore, tmp_path: Path
) -> None:
    def put(entity: Entity) -> Mutation:
        return lambda _: entity

    where = [{**point(128.6, 35.8)[0], "observedAt": T0}]
    later = "2026-11-25T05:00:00.000Z"
    first = doc(1, a=[{"type": "Property", "value": [1, "x", None]}], where=where)
    await store.mutate("", [(first["id"], put(first))])
    # same rows in the same places, other kinds of value; the geometry's time changes only
    kinds = [{"type": "Property", "value": ["1", True, 2.5]}]
    same_place = [{**where[0], "observedAt": later}]
    await store.mutate("", [(first["id"], put(doc(1, a=kinds, where=same_place)))])
    # then the geometry moves while its time stays
    moved = [{**point(128.7, 35.9)[0], "observedAt": later}]
    await store.mutate("", [(first["id"], put(doc(1, a=kinds, where=moved)))])

    fresh = SqliteEntityStore(tmp_path / "fresh.db")
    await fresh.open()
    try:
        final = await store.get_many("", [first["id"]])
        await fresh.mutate("", [(i, put(e)) for i, e in final.items()])
        assert index_of(store) == index_of(fresh)
        (box,) = [g[2:] for g in index_of(store)["geo"]]  # the R*Tree holds 32-bit floats
        assert box == pytest.approx((128.7, 128.7, 35.9, 35.9), abs=1e-4)
    finally:
        await fresh.close()


async def test_a_database_with_rows_numbered_per_entity_is_renumbered_per_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def put(entity: Entity) -> Mutation:
        return lambda _: entity

    path = tmp_path / "old.db"
    renumbering = next(i for i, m in enumerate(schema.MIGRATIONS) if "attrs_base" in m)
    entities = [
        doc(n, a=[{"type": "Property", "value": [n, n]}], b=[{"type": "Property", "value": n}])
        for n in range(3)
    ]
    with monkeypatch.context() as patched:
        patched.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:renumbering])
        old = SqliteEntityStore(path)
        await old.open()
        # (no history: today's history writes need tables that old schema lacks)
        with written_today(old.db):
            await old.mutate("", [(e["id"], put(e)) for e in entities], history=False)
        # number the rows as the store did before: one run per entity, attribute by attribute
        for (ent,) in old.db.execute("SELECT ent FROM entities").fetchall():
            rows = old.db.execute(
                "SELECT name, path, seq FROM attrs WHERE ent = ? ORDER BY name, seq", (ent,)
            ).fetchall()
            for number, (name, path_, seq) in enumerate(rows):
                old.db.execute(
                    "UPDATE attrs SET seq = ? WHERE ent = ? AND name = ? AND path = ? AND seq = ?",
                    (-1000 - number, ent, name, path_, seq),
                )
            old.db.execute("UPDATE attrs SET seq = -1000 - seq WHERE ent = ? AND seq < 0", (ent,))
        await old.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT min(seq) FROM attrs WHERE name = ?", (f"{NS}b",)).fetchone() == (3,)
    db.close()

    store = SqliteEntityStore(path)
    await store.open()
    try:
        # an update after the upgrade leaves the index as a fresh write of the same state
        await store.mutate("", [(doc(0)["id"], put(doc(0, b=[{"type": "Property", "value": 9}])))])
        found = await store.get_many("", [e["id"] for e in entities])
        fresh = SqliteEntityStore(tmp_path / "fresh.db")
        await fresh.open()
        try:
            await fresh.mutate("", [(i, put(e)) for i, e in sorted(found.items())])
            expected = index_of(fresh)
        finally:
            await fresh.close()
        assert index_of(store) == expected
    finally:
        await store.close()
    # the migration is idempotent: run again it changes nothing
    db = sqlite3.connect(path)
    before = sorted(db.execute("SELECT * FROM attrs"))
    for statement in schema.MIGRATIONS[renumbering].split(";"):
        db.execute(statement)
    assert sorted(db.execute("SELECT * FROM attrs")) == before
    db.close()
