"""How the SQLite store reads the candidates an index gives a query: their tenant and id from
the small `entities_key` index, their documents only for the page it returns."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from dalgu.broker.mutations import create
from dalgu.errors import StoreUnavailable
from dalgu.query.ast import TypeAnd, TypeName, TypeOr, map_names
from dalgu.query.order import OrderTerm
from dalgu.query.q import parse_q
from dalgu.store.base import Entity, EntityQuery
from dalgu.store.sqlite import SqliteEntityStore, schema
from tests.store.old_schema import write_before

NS = "https://example.org/"
T0 = "2026-12-04T04:00:00.000Z"


def car(n: int) -> Entity:
    return {
        "id": f"urn:ngsi-ld:Car:{n:03d}",
        "type": [f"{NS}Car" if n % 3 else f"{NS}Bus"],
        "createdAt": T0,
        "modifiedAt": T0,
        f"{NS}speed": [{"type": "Property", "value": n % 40}],
        f"{NS}name": [{"type": "Property", "value": f"car {99 - n % 100:02d}"}],
    }


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEntityStore]:
    s = SqliteEntityStore(tmp_path / "dalgu.db")
    await s.open()
    cars = [car(n) for n in range(300)]
    await s.mutate("", [(c["id"], create(c)) for c in reversed(cars)])
    yield s
    await s.close()


def q(text: str) -> Any:
    return map_names(parse_q(text), lambda name: NS + name)


def traced(store: SqliteEntityStore, query: EntityQuery) -> list[str]:
    """The statements the store runs for `query` (run again to trace them)."""
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    try:
        store._query("", query)
    finally:
        store.db.set_trace_callback(None)
    return statements


def plans(store: SqliteEntityStore, query: EntityQuery) -> list[str]:
    """The query plan of each SELECT of candidates the store ran for `query`."""
    statements = traced(store, query)
    return [
        " / ".join(row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}"))
        for sql in statements
        if sql.startswith("SELECT") and "JOIN entities e" in sql
    ]


async def test_index_driven_query_sorts_candidates_from_the_key_index(
    store: SqliteEntityStore,
) -> None:
    query = EntityQuery(types=TypeName(f"{NS}Car"), q=q("speed>=10;speed<20"), limit=5)
    result = await store.query("", query)
    # every car (not bus) of speed 10-19, by id: the first five
    expected = sorted(
        c["id"] for c in map(car, range(300)) if 10 <= c[f"{NS}speed"][0]["value"] < 20
    )
    expected = [i for i in expected if int(i[-3:]) % 3][:5]
    assert [e["id"] for e in result.entities] == expected
    [plan] = plans(store, query)
    assert "COVERING INDEX entities_key" in plan


async def test_counting_candidates_reads_the_key_index_too(store: SqliteEntityStore) -> None:
    query = EntityQuery(q=q("speed==7"), limit=0, count=True)
    assert (await store.query("", query)).count == sum(1 for n in range(300) if n % 40 == 7)
    [plan] = plans(store, query)
    assert "COVERING INDEX entities_key" in plan


async def test_ordering_by_what_only_the_document_holds_reads_the_rows(
    store: SqliteEntityStore,
) -> None:
    """`orderBy=speed.modifiedAt` is read from each candidate's document: the rows, not the
    key index, and the same page as ordering the candidates by id."""
    query = EntityQuery(q=q("speed<3"), order=(OrderTerm(f"{NS}speed", ("modifiedAt",)),))
    result = await store.query("", query)
    assert [e["id"] for e in result.entities] == sorted(
        c["id"] for c in map(car, range(300)) if c[f"{NS}speed"][0]["value"] < 3
    )[:20]
    [plan] = plans(store, query)
    assert "entities_key" not in plan


def test_an_existing_database_gains_the_key_index(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    keyed = next(i for i, m in enumerate(schema.MIGRATIONS) if "entities_key" in m)
    for script in schema.MIGRATIONS[:keyed]:  # a database of the release before
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("INSERT INTO schema_version VALUES (?)", (keyed,))
    names = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "entities_key" not in names
    assert schema.migrate(db) == (keyed, len(schema.MIGRATIONS))
    names = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "entities_key" in names


async def test_a_rare_type_is_read_from_the_type_index(store: SqliteEntityStore) -> None:
    query = EntityQuery(types=TypeName(f"{NS}Bus"), limit=4, offset=2, count=True)
    result = await store.query("", query)
    buses = sorted(c["id"] for c in map(car, range(300)) if c["type"] == [f"{NS}Bus"])
    assert [e["id"] for e in result.entities] == buses[2:6]
    assert result.count == len(buses) == 100
    [page] = plans(store, query)  # the page's candidates come from the type index
    assert "entity_types" in page.split(" / ")[0]
    # and the count is the one the writes keep of the type, no entity read
    counts = [
        s
        for s in traced(store, query)
        if "type_entities" in s or (s.startswith("SELECT count(*)") and "entities e" in s)
    ]
    assert counts == [f"SELECT n FROM type_entities WHERE tenant = '' AND type = '{NS}Bus'"]


async def test_a_type_nobody_has_reads_no_entity(store: SqliteEntityStore) -> None:
    statements: list[str] = []
    query = EntityQuery(types=TypeName(f"{NS}Tram"), limit=20)
    store.db.set_trace_callback(statements.append)
    try:
        assert (await store.query("", query)).entities == []
    finally:
        store.db.set_trace_callback(None)
    page = [s for s in statements if s.startswith("SELECT") and "ORDER BY" in s]
    assert page and all("entity_types WHERE tenant" in s for s in page)


async def test_types_ored_give_an_entity_of_both_types_once(store: SqliteEntityStore) -> None:
    both = {**car(1000), "type": [f"{NS}Car", f"{NS}Bus"], "id": "urn:ngsi-ld:Car:000a"}
    await store.mutate("", [(both["id"], create(both))])
    query = EntityQuery(
        types=TypeOr((TypeName(f"{NS}Bus"), TypeName(f"{NS}Car"), TypeName(f"{NS}Tram"))),
        limit=3,
        count=True,
    )
    result = await store.query("", query)
    assert [e["id"] for e in result.entities] == [
        "urn:ngsi-ld:Car:000",
        "urn:ngsi-ld:Car:000a",
        "urn:ngsi-ld:Car:001",
    ]
    assert result.count == 301
    anded = EntityQuery(types=TypeAnd((TypeName(f"{NS}Car"), TypeName(f"{NS}Bus"))), count=True)
    assert [e["id"] for e in (await store.query("", anded)).entities] == [both["id"]]


async def test_a_types_count_is_kept_a_moment_not_taken_per_query(
    store: SqliteEntityStore,
) -> None:
    statements: list[str] = []
    query = EntityQuery(types=TypeName(f"{NS}Car"), limit=5)
    store.db.set_trace_callback(statements.append)
    try:
        for _ in range(3):
            assert len((await store.query("", query)).entities) == 5
    finally:
        store.db.set_trace_callback(None)
    counts = [s for s in statements if s.startswith("SELECT count(*) FROM (SELECT 1 FROM entity")]
    assert len(counts) == 1


async def test_an_entity_whose_types_change_is_found_by_its_types_only(
    store: SqliteEntityStore,
) -> None:
    """An entity's one type is tested on its row (`type1`); an entity of several types, or
    one whose types changed, by the type index: either way the same answers."""
    by_speed = q("speed==1")  # 1, 41, 81 ... 281: two of them (81, 201) buses

    async def ids(types: Any, **options: Any) -> list[str]:
        query = EntityQuery(types=types, q=options.pop("q", by_speed), limit=100, **options)
        return [e["id"] for e in (await store.query("", query)).entities]

    def retyped(n: int, *types: str) -> Entity:
        return {**car(n), "type": [f"{NS}{t}" for t in types]}

    def put(entity: Entity) -> Any:
        return lambda _: entity

    one = "urn:ngsi-ld:Car:001"
    assert one in await ids(TypeName(f"{NS}Car"))
    await store.mutate("", [(one, put(retyped(1, "Car", "Tram")))])  # a type added
    assert one in await ids(TypeName(f"{NS}Car"))
    assert await ids(TypeName(f"{NS}Tram")) == [one]
    await store.mutate("", [(one, put(retyped(1, "Tram")))])  # then the first one taken away
    assert one not in await ids(TypeName(f"{NS}Car"))
    assert await ids(TypeName(f"{NS}Tram")) == [one]
    assert await ids(TypeName(f"{NS}Tram"), q=None) == [one]  # the type index drives
    walked = EntityQuery(types=TypeName(f"{NS}Car"), limit=0, count=True)
    cars = sum(1 for n in range(300) if n % 3) - 1
    assert (await store.query("", walked)).count == cars
    two = "urn:ngsi-ld:Car:002"
    rows = dict(store.db.execute("SELECT id, type1 FROM entities WHERE id IN (?, ?)", (one, two)))
    assert rows == {one: f"{NS}Tram", two: f"{NS}Car"}


async def test_an_existing_database_gains_each_entity_s_one_type(
    tmp_path: Path, monkeypatch: Any
) -> None:
    path = tmp_path / "old.db"
    entities = [car(n) for n in range(6)]
    entities.append({**car(6), "type": [f"{NS}Car", f"{NS}Bus"]})
    await write_before(path, "type1", entities, monkeypatch)
    store = SqliteEntityStore(path)
    await store.open()
    try:
        rows = dict(store.db.execute("SELECT id, type1 FROM entities"))
        assert rows == {e["id"]: e["type"][0] if len(e["type"]) == 1 else None for e in entities}
        index = store.db.execute("PRAGMA index_info(entities_key)").fetchall()
        assert [column for *_, column in index] == ["ent", "tenant", "id", "type1"]
        query = EntityQuery(types=TypeName(f"{NS}Bus"), q=q("speed<10"), limit=10)
        found = [e["id"] for e in (await store.query("", query)).entities]
        assert found == ["urn:ngsi-ld:Car:000", "urn:ngsi-ld:Car:003", "urn:ngsi-ld:Car:006"]
    finally:
        await store.close()


async def test_a_count_by_type_alone_is_the_type_index_s_rows(store: SqliteEntityStore) -> None:
    both = {**car(1000), "type": [f"{NS}Car", f"{NS}Bus"], "id": "urn:ngsi-ld:Car:000a"}
    other = {**car(1001), "id": "urn:ngsi-ld:Car:000b"}  # a car of another tenant
    await store.mutate("", [(both["id"], create(both))])
    await store.mutate("elsewhere", [(other["id"], create(other))])

    async def counted(types: Any, **filters: Any) -> int | None:
        query = EntityQuery(types=types, limit=0, count=True, **filters)
        return (await store.query("", query)).count

    car_, bus, tram = (TypeName(f"{NS}{t}") for t in ("Car", "Bus", "Tram"))
    assert await counted(car_) == 200 + 1
    assert await counted(bus) == 100 + 1
    assert await counted(tram) == 0
    assert await counted(TypeOr((car_, bus, tram))) == 301  # the one of both types once
    assert await counted(TypeAnd((car_, bus))) == 1
    # with any other condition the count is not the type's rows
    assert await counted(car_, q=q("speed<10")) == sum(
        1 for n in range(300) if n % 3 and n % 40 < 10
    ) + (1000 % 40 < 10)
    assert await counted(car_, ids=("urn:ngsi-ld:Car:001", "urn:ngsi-ld:Car:003")) == 1
    assert await counted(car_, attrs=(f"{NS}nothing",)) == 0


async def test_a_count_reads_a_value_index_however_many_match(tmp_path: Path) -> None:
    """A page of a common value walks the entities in id order; its count reads the value
    index's rows instead of testing every entity."""
    store = SqliteEntityStore(tmp_path / "many.db")
    await store.open()
    try:
        cars = [car(n) for n in range(1200)]
        await store.mutate("", [(c["id"], create(c)) for c in cars])
        query = EntityQuery(types=TypeName(f"{NS}Car"), q=q("speed>=5"), limit=3, count=True)
        result = await store.query("", query)
        matches = sorted(
            c["id"] for c in cars if c["type"] == [f"{NS}Car"] and c[f"{NS}speed"][0]["value"] >= 5
        )
        assert [e["id"] for e in result.entities] == matches[:3]
        assert result.count == len(matches) == 700
        [counted] = plans(store, query)  # the page walks: only the count joins candidates
        assert "attrs_num" in counted.split(" / ")[0]
    finally:
        await store.close()


async def test_a_rare_attribute_is_read_from_its_markers(store: SqliteEntityStore) -> None:
    """`attrs=` and a `q` that an attribute exists, when few entities hold it: candidates from
    the attribute's instance markers (each entity once, however many instances), not a walk
    of every entity."""
    rare = [{**car(n), f"{NS}wheelchair": [{"type": "Property", "value": True}]} for n in (5, 77)]
    rare.append(
        {
            **car(150),
            f"{NS}ramp": [
                {"type": "Property", "value": 1},
                {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:Dataset:b"},
            ],
        }
    )
    await store.mutate("", [(e["id"], lambda _, e=e: e) for e in rare])
    for query, expected in (
        (EntityQuery(attrs=(f"{NS}wheelchair",)), [5, 77]),
        (EntityQuery(attrs=(f"{NS}wheelchair", f"{NS}ramp"), count=True), [5, 77, 150]),
        (EntityQuery(q=q("ramp")), [150]),
        (EntityQuery(types=TypeName(f"{NS}Car"), q=q("wheelchair;speed<10")), [5]),
        (EntityQuery(attrs=(f"{NS}nothing",)), []),
    ):
        result = await store.query("", query)
        assert [e["id"] for e in result.entities] == [f"urn:ngsi-ld:Car:{n:03d}" for n in expected]
        if query.count:
            assert result.count == len(expected)
        driven = plans(store, query)  # the page (and the count): candidates joined
        assert driven and all("INDEX attrs_marker" in plan for plan in driven)


async def test_a_rare_scope_is_read_from_the_scope_index(store: SqliteEntityStore) -> None:
    """A `scopeQ` whose patterns begin with literal levels: candidates from the scope index
    by those beginnings, each tested against the whole query; the same answers as a test of
    every entity."""
    from dalgu.query.scope import parse_scope_query, scope_matches

    places = ["/Daegu", "/Daegu/Suseong", "/Daegu/Suseong/Beomeo", "/Daegu/Jung", "/Daegun"]
    scoped = [
        {**car(n), "scope": [places[n % len(places)]]} for n in range(0, 300, 7)
    ]  # 43 of the 300
    await store.mutate("", [(e["id"], lambda _, e=e: e) for e in scoped])
    other = {**car(5), "scope": ["/Daegu/Suseong"]}  # another tenant's
    await store.mutate("elsewhere", [(other["id"], create(other))])
    by_id = {e["id"]: e for e in scoped}
    for text in (
        "/Daegu/Suseong",
        "/Daegu/#",
        "/Daegu/+",
        "/Daegu/Jung,/Daegun",
        "/Daegu/#;/Daegu/Suseong/#",
        "/Seoul",
    ):
        expr = parse_scope_query(text)
        query = EntityQuery(scope=expr, limit=100, count=True)
        result = await store.query("", query)
        expected = sorted(i for i, e in by_id.items() if scope_matches(expr, e["scope"]))
        assert [e["id"] for e in result.entities] == expected, text
        assert result.count == len(expected)
        driven = plans(store, query)
        assert driven and all("entity_scopes_scope" in plan for plan in driven), text
    # a pattern with no literal beginning walks the entities, as before
    assert plans(store, EntityQuery(scope=parse_scope_query("/+/Suseong"))) == []


async def test_an_anchored_id_pattern_searches_the_id_index(store: SqliteEntityStore) -> None:
    """`^urn:ngsi-ld:Car:01` is a range of the id index, not a regexp call per entity."""
    query = EntityQuery(id_pattern="^urn:ngsi-ld:Car:01", limit=5)
    result = await store.query("", query)
    assert [e["id"] for e in result.entities] == [f"urn:ngsi-ld:Car:{n:03d}" for n in range(10, 15)]
    steps = [
        row[3]
        for sql in traced(store, query)
        if sql.startswith("SELECT") and "FROM entities e" in sql
        for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}")
    ]
    assert any("id>? AND id<?" in step for step in steps), steps


def test_a_database_of_the_release_with_seven_migrations_is_upgraded(tmp_path: Path) -> None:
    """Dalgu `031d930` (2026-11-25) wrote databases of 7 migrations whose 7th is main's 8th
    (the sandboxes table): main's 7th (the value indexes) was put before it later. Such a
    database stopped the upgrade at main's 10th, "no such index: attrs_txt", with a traceback
    (an outside test of upgrades, round 6)."""
    db = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    released = [*schema.MIGRATIONS[:6], schema.MIGRATIONS[7]]
    assert all(isinstance(script, str) for script in released)
    for version, script in enumerate(released, start=1):
        for statement in str(script).split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (?)", (version,))
    assert schema.migrate(db) == (7, len(schema.MIGRATIONS))
    names = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"attrs_num", "attrs_string"} <= names
    versions = [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, len(schema.MIGRATIONS) + 1))
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_failing_migration_is_one_error_naming_it_and_where_it_left_the_database(
    tmp_path: Path, monkeypatch: Any
) -> None:
    db = sqlite3.connect(tmp_path / "db.db", isolation_level=None)
    schema.migrate(db)
    broken = [*schema.MIGRATIONS, "CREATE INDEX nowhere ON no_such_table (x)"]
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    with pytest.raises(StoreUnavailable) as raised:
        schema.migrate(db)
    n = len(broken)
    assert f"migration {n} of {n} failed (no such table: main.no_such_table)" in raised.value.detail
    assert f"left at version {n - 1}" in raised.value.detail
