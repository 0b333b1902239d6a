"""The SQLite store's work for a page stays flat in data the page does not hold (perf-1..4 of
session 39's outside tester): entities of other types whose ids sort first, geometries in a
wide box, an attribute's long history. Work is counted in SQLite's virtual machine steps
(not time): the same query on a store with 25 times more of that other data must cost about
the same. Results are checked too; `tests/api/test_perf_query_results.py` compares every
shape with an oracle on both stores."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
import shapely

from dalgu.broker.mutations import create
from dalgu.query.ast import GeoQuery, TypeName
from dalgu.query.order import Ordering, OrderTerm
from dalgu.store.base import Entity, EntityQuery, TemporalQuery
from dalgu.store.sqlite import SqliteEntityStore, schema
from dalgu.store.sqlite.geo import geo_match, geo_point_match
from dalgu.store.sqlite.near import point_test, rectangle

NS = "https://example.org/"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
T0 = "2026-12-08T00:00:00.000Z"
LATE = 600  # entities of the type whose ids sort last: too many to read all for a page
BOX = [[[128.4, 35.7], [128.8, 35.7], [128.8, 36.0], [128.4, 36.0], [128.4, 35.7]]]
PENTAGON = [
    [[128.4, 35.7], [128.8, 35.7], [128.8, 36.0], [128.6, 36.1], [128.4, 36.0], [128.4, 35.7]]
]


def place(n: int, kind: str) -> Entity:
    """Entity `n` of `kind` (`Early` ids sort before `Late` ones), a point in the box (every
    seventh a small square)."""
    x, y = 128.45 + (n * 37 % 300) / 1000, 35.75 + (n * 53 % 200) / 1000
    geometry: dict[str, Any] = {"type": "Point", "coordinates": [x, y]}
    if n % 7 == 0:
        ring = [[x, y], [x + 0.001, y], [x + 0.001, y + 0.001], [x, y + 0.001], [x, y]]
        geometry = {"type": "Polygon", "coordinates": [ring]}
    return {
        "id": f"urn:ngsi-ld:{kind}:{n:05d}",
        "type": [f"{NS}{kind}"],
        "createdAt": T0,
        "modifiedAt": T0,
        f"{NS}level": [{"type": "Property", "value": n}],
        LOCATION: [{"type": "GeoProperty", "value": geometry}],
    }


async def city(path: Path, early: int) -> SqliteEntityStore:
    store = SqliteEntityStore(path)
    await store.open()
    places = [place(n, "Early") for n in range(early)] + [place(n, "Late") for n in range(LATE)]
    await store.mutate("", [(p["id"], create(p)) for p in places])
    return store


@pytest_asyncio.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SqliteEntityStore, SqliteEntityStore]]:
    """A small city (60 entities sorting first) and a large one (3,000)."""
    small = await city(tmp_path / "small.db", 60)
    large = await city(tmp_path / "large.db", 3000)
    yield small, large
    await small.close()
    await large.close()


def work(store: SqliteEntityStore, run: Callable[[], Any]) -> tuple[int, Any]:
    """SQLite's virtual machine steps (in hundreds) that `run()` took, and its result."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    store.db.set_progress_handler(tick, 100)
    try:
        result = run()
    finally:
        store.db.set_progress_handler(None, 100)
    return steps, result


async def awork(store: SqliteEntityStore, running: Awaitable[Any]) -> tuple[int, Any]:
    """`work` of a coroutine that runs its statements without yielding to others."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    store.db.set_progress_handler(tick, 100)
    try:
        result = await running
    finally:
        store.db.set_progress_handler(None, 100)
    return steps, result


def page(store: SqliteEntityStore, query: EntityQuery) -> tuple[int, list[str], int | None]:
    steps, result = work(store, lambda: store._query("", query))
    return steps, [e["id"] for e in result.entities], result.count


def within(coordinates: Any) -> GeoQuery:
    return GeoQuery("within", "Polygon", coordinates, shapely.Polygon(coordinates[0]), LOCATION)


def late(*numbers: int) -> list[str]:
    return [f"urn:ngsi-ld:Late:{n:05d}" for n in numbers]


def assert_flat(small: int, large: int) -> None:
    """The large city's work within twice the small one's (50 times the other data)."""
    assert large <= 2 * small + 20, (small, large)


async def test_first_page_of_a_type_is_flat_in_entities_of_types_sorting_before(
    stores: tuple[SqliteEntityStore, SqliteEntityStore],
) -> None:
    query = EntityQuery(types=TypeName(f"{NS}Late"), limit=1)
    (small, small_ids, _), (large, large_ids, _) = (page(s, query) for s in stores)
    assert small_ids == large_ids == late(0)
    assert_flat(small, large)


async def test_first_page_within_a_city_wide_rectangle_is_flat_in_the_entities_in_it(
    stores: tuple[SqliteEntityStore, SqliteEntityStore],
) -> None:
    query = EntityQuery(geo=within(BOX), limit=5)
    (small, small_ids, _), (large, large_ids, _) = (page(s, query) for s in stores)
    assert small_ids == large_ids == [f"urn:ngsi-ld:Early:{n:05d}" for n in range(5)]
    assert_flat(small, large)


@pytest.mark.parametrize("coordinates", [BOX, PENTAGON], ids=["rectangle", "pentagon"])
async def test_a_type_within_a_city_wide_polygon_tests_that_type_s_entities(
    stores: tuple[SqliteEntityStore, SqliteEntityStore], coordinates: Any
) -> None:
    query = EntityQuery(types=TypeName(f"{NS}Late"), geo=within(coordinates), limit=5)
    (small, small_ids, _), (large, large_ids, _) = (page(s, query) for s in stores)
    assert small_ids == large_ids == late(0, 1, 2, 3, 4)
    assert_flat(small, large)


async def test_a_count_of_a_type_within_a_city_wide_polygon_counts_that_type_s_entities(
    stores: tuple[SqliteEntityStore, SqliteEntityStore],
) -> None:
    query = EntityQuery(types=TypeName(f"{NS}Late"), geo=within(BOX), limit=0, count=True)
    (small, _, small_count), (large, _, large_count) = (page(s, query) for s in stores)
    assert small_count == large_count == LATE
    assert_flat(small, large)


async def test_nearest_page_within_a_wide_radius_is_flat_in_the_entities_in_reach(
    stores: tuple[SqliteEntityStore, SqliteEntityStore],
) -> None:
    point = shapely.Point(128.6, 35.85)
    geo = GeoQuery("near", "Point", [128.6, 35.85], point, LOCATION, max_distance=40_000)
    query = EntityQuery(types=TypeName(f"{NS}Late"), geo=geo, limit=3)
    (small, small_ids, _), (large, large_ids, _) = (page(s, query) for s in stores)
    assert small_ids == large_ids == late(0, 1, 2)
    assert_flat(small, large)


async def history(path: Path, instances: int) -> SqliteEntityStore:
    store = SqliteEntityStore(path)
    await store.open()
    level = [
        {
            "type": "Property",
            "value": i % 100,
            "observedAt": f"2026-11-{1 + i // 86400:02d}T{i // 3600 % 24:02d}:"
            f"{i // 60 % 60:02d}:{i % 60:02d}Z",
        }
        for i in range(instances)
    ]
    await store.add_instances("", "urn:ngsi-ld:Light:1", [f"{NS}Light"], {f"{NS}level": level})
    return store


async def test_last_instance_of_an_attribute_is_flat_in_its_history(tmp_path: Path) -> None:
    short = await history(tmp_path / "short.db", 100)
    long = await history(tmp_path / "long.db", 2500)
    query = TemporalQuery(ids=("urn:ngsi-ld:Light:1",), attrs=(f"{NS}level",), last_n=1)
    try:
        (small, small_found) = await awork(short, short.temporal_query("", query))
        (large, large_found) = await awork(long, long.temporal_query("", query))
        assert [i["value"] for i in small_found[0][0].instances[f"{NS}level"]] == [99]
        assert [i["value"] for i in large_found[0][0].instances[f"{NS}level"]] == [99]
        assert_flat(small, large)
    finally:
        await short.close()
        await long.close()


async def test_a_history_ordered_by_a_value_is_flat_in_the_entities_ranking_after(
    stores: tuple[SqliteEntityStore, SqliteEntityStore],
) -> None:
    """The history's entities ordered by what they hold now (`orderBy=level&lastN=1`): the
    page comes from the value index, not from sorting every entity of the type."""
    query = TemporalQuery(
        attrs=(f"{NS}level",),
        timerel="after",
        time_at="2020-01-01T00:00:00Z",
        timeproperty="modifiedAt",
        ordering=Ordering((OrderTerm(f"{NS}level"),)),
        last_n=1,
        limit=3,
    )
    small, large = stores
    (small_work, (small_found, _)) = await awork(small, small.temporal_query("", query))
    (large_work, (large_found, _)) = await awork(large, large.temporal_query("", query))
    first = ["urn:ngsi-ld:Early:00000", "urn:ngsi-ld:Late:00000", "urn:ngsi-ld:Early:00001"]
    assert [e.id for e in small_found] == first
    assert [e.id for e in large_found] == [e.id for e in small_found]
    assert_flat(small_work, large_work)


def test_an_existing_database_gains_the_type_and_id_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    schema.migrate(db)
    version = schema.MIGRATIONS.index(schema.index_json_values) + 1  # the one before
    db.execute("DROP INDEX entities_type_id")
    db.execute("DELETE FROM schema_version WHERE version > ?", (version,))
    db.execute("INSERT INTO entities (tenant, id, doc, type1) VALUES ('', 'urn:a', x'7b7d', 'T')")
    assert schema.migrate(db) == (version, len(schema.MIGRATIONS))
    found = db.execute(
        "SELECT id FROM entities INDEXED BY entities_type_id WHERE tenant = '' AND type1 = 'T'"
    ).fetchall()
    assert found == [("urn:a",)]


@pytest.mark.parametrize("georel", ["within", "intersects"])
@pytest.mark.parametrize(
    "coordinates",
    [BOX, PENTAGON, [[[128.5, 35.8], [128.6, 35.9], [128.5, 36.0], [128.4, 35.9], [128.5, 35.8]]]],
    ids=["rectangle", "pentagon", "diamond"],
)
def test_a_point_s_test_in_sql_answers_as_the_shape_s_test(georel: str, coordinates: Any) -> None:
    """`point_test` (four comparisons for a rectangle, `geo_point_match` for another shape)
    against `geo_match` on the point's GeoJSON: corners, edges, inside, outside."""
    db = sqlite3.connect(":memory:")
    db.create_function("geo_match", 5, geo_match)
    db.create_function("geo_point_match", 4, geo_point_match)
    geo = GeoQuery(georel, "Polygon", coordinates, shapely.Polygon(coordinates[0]), LOCATION)  # type: ignore[arg-type]
    xs = [128.3, 128.4, 128.45, 128.5, 128.6, 128.8, 128.9, 128.4 + 1e-12, 128.8 - 1e-12]
    ys = [35.6, 35.7, 35.8, 35.9, 36.0, 36.05, 36.1, 36.2, 35.7 + 1e-12, 36.0 - 1e-12]
    bound: list[Any] = []
    sql = point_test(geo, lambda v: bound.append(v) or "?", "g")  # placeholders before px, py
    for x in xs:
        for y in ys:
            (mine,) = db.execute(
                f"SELECT {sql} FROM (SELECT ? AS px, ? AS py) g", [*bound, x, y]
            ).fetchone()
            point = orjson.dumps({"type": "Point", "coordinates": [x, y]})
            shape = shapely.to_wkb(geo.shape)
            assert bool(mine) == bool(geo_match(georel, shape, None, None, point)), (x, y)
    assert (rectangle(geo.shape) is not None) == (coordinates is BOX)
