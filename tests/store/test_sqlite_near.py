"""`near` between points in SQL (`store/sqlite/near.py`): the same distances as the Python path
to the last bit, the same entities at the edge of `maxDistance`, and the coordinates of points
stored before this existed filled in by the migration."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely
from shapely.geometry import Point

from dalgu.broker.mutations import create
from dalgu.query.ast import GeoQuery
from dalgu.query.geo import parse_geoquery
from dalgu.query.order import parse_ordering
from dalgu.store.base import EntityQuery
from dalgu.store.sqlite import SqliteEntityStore, schema
from dalgu.store.sqlite.geo import geo_distance, geo_match
from dalgu.store.sqlite.near import distance_sql, near_test
from tests.store.test_sqlite_store import store

LOCATION = "https://uri.etsi.org/ngsi-ld/location"
THING = "https://example.org/Thing"
T0 = "2026-12-06T00:00:00Z"


def pairs(n: int, seed: int) -> list[tuple[float, float, float, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x, y = rng.uniform(-179, 179), rng.uniform(-85, 85)
        # near ones (a city), far ones, and the same point
        dx, dy = rng.choice([(rng.gauss(0, 0.01), rng.gauss(0, 0.01)), (rng.gauss(0, 20), 0.0)])
        out.append((x, y, max(-180.0, min(180.0, x + dx)), max(-90.0, min(90.0, y + dy))))
    out.append((128.6, 35.87, 128.6, 35.87))
    return out


def test_the_sql_distance_is_the_python_distance_to_the_last_bit() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE g (px REAL, py REAL)")
    for x, y, qx, qy in pairs(3000, seed=7):
        params: list[Any] = []

        def bind(value: Any, params: list[Any] = params) -> str:
            params.append(value)
            return "?"

        sql = f"SELECT {distance_sql((qx, qy), bind)} FROM g"
        db.execute("DELETE FROM g")
        db.execute("INSERT INTO g VALUES (?, ?)", (x, y))
        (in_sql,) = db.execute(sql, params).fetchone()
        entity = orjson.dumps({"type": "Point", "coordinates": [x, y]})
        in_python = geo_distance(shapely.to_wkb(Point(qx, qy)), entity)
        assert in_sql == in_python, (x, y, qx, qy)


def thing(n: int, geometry: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Thing:{n}",
        "type": [THING],
        "createdAt": T0,
        "modifiedAt": T0,
        LOCATION: [{"type": "GeoProperty", "value": geometry}],
    }


def near(x: float, y: float, max_distance: float | None, min_distance: float | None) -> GeoQuery:
    georel = "near"
    if max_distance is not None:
        georel += f";maxDistance=={max_distance!r}"
    if min_distance is not None:
        georel += f";minDistance=={min_distance!r}"
    return parse_geoquery(georel, "Point", f"[{x!r},{y!r}]", LOCATION)


async def found(store: SqliteEntityStore, geo: GeoQuery) -> set[str]:
    result = await store.query("", EntityQuery(types=None, geo=geo, limit=1000))
    return {e["id"] for e in result.entities}


def expected(things: list[dict[str, Any]], geo: GeoQuery) -> set[str]:
    """What `geo_match`, the Python path, says of each entity."""
    wkb = shapely.to_wkb(geo.shape)
    return {
        t["id"]
        for t in things
        if geo_match(
            "near",
            wkb,
            geo.max_distance,
            geo.min_distance,
            orjson.dumps(t[LOCATION][0]["value"]),
        )
    }


async def test_entities_at_the_edge_are_found_as_the_python_path_finds_them(
    store: SqliteEntityStore,
) -> None:
    """Each radius is exactly one entity's distance (as the Python path computes it): that
    entity is in with maxDistance and in with minDistance, on the SQL path as on the other."""
    rng = random.Random(11)
    qx, qy = 128.6, 35.87
    things = []
    for n in range(60):
        point = [qx + rng.gauss(0, 0.004), qy + rng.gauss(0, 0.004)]
        things.append(thing(n, {"type": "Point", "coordinates": point}))
    square = [
        [qx, qy + 0.001],
        [qx + 0.001, qy + 0.001],
        [qx + 0.001, qy + 0.002],
        [qx, qy + 0.001],
    ]
    things.append(thing(60, {"type": "Polygon", "coordinates": [square]}))  # not a point
    await store.mutate("", [(t["id"], create(t)) for t in things])
    wkb = shapely.to_wkb(Point(qx, qy))
    radii = sorted(geo_distance(wkb, orjson.dumps(t[LOCATION][0]["value"])) for t in things[:60])
    for radius in radii[::6]:
        for geo in (near(qx, qy, radius, None), near(qx, qy, None, radius)):
            assert await found(store, geo) == expected(things, geo)
        # not in the query language (one of the two), but the store takes both
        with_both = replace(near(qx, qy, radii[-10], None), min_distance=radius)
        assert await found(store, with_both) == expected(things, with_both)


async def test_a_point_that_is_not_a_point_the_sql_can_read_goes_to_the_python_path(
    store: SqliteEntityStore,
) -> None:
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    await store.mutate("", [("urn:ngsi-ld:Thing:1", create(thing(1, polygon)))])
    await store.mutate(
        "", [("urn:ngsi-ld:Thing:2", create(thing(2, {"type": "Point", "coordinates": [3, 3]})))]
    )
    rows = dict(store.db.execute("SELECT gid, px FROM geo").fetchall())
    assert sorted(rows.values(), key=str) == [3.0, None]
    assert await found(store, near(1.0, 1.0, 1.0, None)) == {"urn:ngsi-ld:Thing:1"}


def test_the_query_text_binds_each_placeholder_where_it_appears() -> None:
    params: list[Any] = []

    def bind(value: Any) -> str:
        params.append(value)
        return "?"

    fallback_calls: list[int] = []

    def fallback() -> str:
        fallback_calls.append(1)
        return f"geo_match({bind('near')}, g.geometry)"

    sql = near_test(replace(near(1.0, 2.0, 100.0, None), min_distance=10.0), bind, fallback)
    assert sql.count("?") == len(params)
    assert params[-1] == "near" and fallback_calls == [1]  # the fallback's come last


def database_before(path: Path, marker: str) -> sqlite3.Connection:
    """A database at the schema version just before the first migration holding `marker`."""
    db = sqlite3.connect(path, isolation_level=None)
    db.create_function("collation_prefix", 2, lambda path, txt: None)
    everything = schema.MIGRATIONS
    added = next(n for n, m in enumerate(everything) if marker in m)
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    for version, script in enumerate(everything[:added], start=1):
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    return db


async def read_after_open(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """`sql`'s rows once the store has opened (and migrated) the database at `path`."""
    s = SqliteEntityStore(path)
    await s.open()
    try:
        return s.db.execute(sql).fetchall()
    finally:
        await s.close()


async def test_the_migration_fills_in_the_points_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = database_before(path, "geo ADD COLUMN px")
    rows = [
        (1, 1, "", LOCATION, b'{"type":"Point","coordinates":[128.5,35.8]}'),
        (2, 2, "", LOCATION, b'{"type":"Point","coordinates":[128,36,12.5]}'),
        (3, 3, "", LOCATION, b'{"type":"LineString","coordinates":[[0,0],[1,1]]}'),
    ]
    db.executemany("INSERT INTO geo (gid, ent, tenant, name, geometry) VALUES (?,?,?,?,?)", rows)
    db.close()
    got = await read_after_open(path, "SELECT gid, px, py FROM geo ORDER BY gid")
    assert got == [(1, 128.5, 35.8), (2, 128.0, 36.0), (3, None, None)]


@pytest.mark.parametrize("way", ["dist-asc", "dist-desc"])
async def test_order_by_distance_is_the_python_paths_order(
    store: SqliteEntityStore, way: str
) -> None:
    rng = random.Random(3)
    things = []
    for n in range(30):
        point = [rng.uniform(128.5, 128.7), rng.uniform(35.8, 35.9)]
        things.append(thing(n, {"type": "Point", "coordinates": point}))
    await store.mutate("", [(t["id"], create(t)) for t in things])
    ordering = parse_ordering(
        {"orderBy": f"location;{way}", "orderFrom": "[128.6,35.85]"}, lambda name: LOCATION
    )
    query = EntityQuery(types=None, limit=100, order=ordering.order, order_from=ordering.order_from)
    got = [e["id"] for e in (await store.query("", query)).entities]
    wkb = shapely.to_wkb(Point(128.6, 35.85))
    by_python = sorted(
        things,
        key=lambda t: geo_distance(wkb, orjson.dumps(t[LOCATION][0]["value"])),
        reverse=way == "dist-desc",
    )
    assert got == [t["id"] for t in by_python]


__all__ = ["store"]
