"""The temporal API's `near` between points in SQL on SQLite (`store/sqlite/near.py`): the box
tested first holds every point within the distance, wherever on Earth, and the entities found
are those whose instances the Python path (`geo_match`) finds in reach, at the edge too."""

from __future__ import annotations

import math
import random
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import shapely
from shapely.geometry import Point

from dalgu.broker.mutations import replace
from dalgu.query.geo import EARTH_RADIUS_M
from dalgu.store.base import TemporalQuery
from dalgu.store.sqlite import SqliteEntityStore
from dalgu.store.sqlite.geo import geo_distance, geo_match
from dalgu.store.sqlite.near import box_sql
from tests.store.test_sqlite_near import (
    LOCATION,
    THING,
    database_before,
    near,
    read_after_open,
)
from tests.store.test_sqlite_store import store

__all__ = ["store"]


def test_the_box_holds_every_point_within_the_distance() -> None:
    """Centres anywhere (the poles and the antimeridian included), radii from metres to
    thousands of kilometres, points at or just inside the radius in every direction."""
    rng = random.Random(5)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE g (px REAL, py REAL)")
    checked = 0
    for _ in range(400):
        x, y = rng.uniform(-180, 180), rng.choice([rng.uniform(-90, 90), rng.uniform(80, 90)])
        metres = rng.choice([5.0, 300.0, 40_000.0, 3_000_000.0])
        params: list[Any] = []

        def bind(value: Any, params: list[Any] = params) -> str:
            params.append(value)
            return "?"

        sql = f"SELECT {box_sql((x, y), metres, bind)} FROM g"
        for _ in range(20):
            bearing = rng.uniform(0, 2 * math.pi)
            angle = metres / EARTH_RADIUS_M * rng.choice([1.0, 0.999999, rng.random()])
            lat1, lon1 = math.radians(y), math.radians(x)
            lat2 = math.asin(
                math.sin(lat1) * math.cos(angle)
                + math.cos(lat1) * math.sin(angle) * math.cos(bearing)
            )
            lon2 = lon1 + math.atan2(
                math.sin(bearing) * math.sin(angle) * math.cos(lat1),
                math.cos(angle) - math.sin(lat1) * math.sin(lat2),
            )
            px = (math.degrees(lon2) + 540) % 360 - 180
            py = math.degrees(lat2)
            target = shapely.to_wkb(Point(x, y))
            distance = geo_distance(
                target, orjson.dumps({"type": "Point", "coordinates": [px, py]})
            )
            if distance > metres:
                continue  # rounding put it just outside: not a point the box must hold
            db.execute("DELETE FROM g")
            db.execute("INSERT INTO g VALUES (?, ?)", (px, py))
            (inside,) = db.execute(sql, params).fetchone()
            assert inside == 1, (x, y, metres, px, py, distance)
            checked += 1
    assert checked > 6000


def track(n: int, points: list[list[float]]) -> list[dict[str, Any]]:
    """The states of thing `n` moving along `points`, one a minute."""
    return [
        {
            "id": f"urn:ngsi-ld:Thing:{n}",
            "type": [THING],
            "createdAt": "2026-12-06T00:00:00Z",
            "modifiedAt": f"2026-12-06T00:{k:02d}:00Z",
            LOCATION: [
                {
                    "type": "GeoProperty",
                    "value": {"type": "Point", "coordinates": point},
                    "observedAt": f"2026-12-06T00:{k:02d}:00Z",
                }
            ],
        }
        for k, point in enumerate(points)
    ]


async def test_entities_whose_track_came_within_reach_as_the_python_path_finds_them(
    store: SqliteEntityStore,
) -> None:
    """Each radius is exactly some instance's distance: with maxDistance the entities that
    came at least that close, with minDistance those that were ever that far, and a time
    window that leaves out where a track came closest."""
    rng = random.Random(9)
    qx, qy = 128.6, 35.87
    tracks = {
        n: [[qx + rng.gauss(0, 0.01), qy + rng.gauss(0, 0.01)] for _ in range(6)] for n in range(25)
    }
    for k in range(6):
        await store.mutate(
            "",
            [
                (f"urn:ngsi-ld:Thing:{n}", replace(track(n, pts)[k], must_exist=False))
                for n, pts in tracks.items()
            ],
        )
    wkb = shapely.to_wkb(Point(qx, qy))

    def reach(point: list[float]) -> float:
        return geo_distance(wkb, orjson.dumps({"type": "Point", "coordinates": point}))

    radii = sorted(reach(p) for pts in tracks.values() for p in pts)
    for radius in radii[::15]:
        for geo, window in [
            (near(qx, qy, radius, None), range(6)),
            (near(qx, qy, None, radius), range(6)),
            (near(qx, qy, radius, None), range(3, 6)),
        ]:
            query = TemporalQuery(
                geo=geo,
                timerel="after" if window.start else None,
                time_at="2026-12-06T00:02:30Z" if window.start else None,
                limit=100,
            )
            entities, _ = await store.temporal_query("", query)
            want = {
                f"urn:ngsi-ld:Thing:{n}"
                for n, pts in tracks.items()
                if any(
                    geo_match(
                        "near",
                        shapely.to_wkb(geo.shape),
                        geo.max_distance,
                        geo.min_distance,
                        orjson.dumps({"type": "Point", "coordinates": pts[k]}),
                    )
                    for k in window
                )
            }
            assert {e.id for e in entities} == want, (radius, geo.max_distance, window)


async def test_the_migration_fills_in_the_history_points_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = database_before(path, "instances ADD COLUMN px")
    geometries = [
        b'{"type":"Point","coordinates":[128.5,35.8]}',
        b'{"type":"Point","coordinates":[128,36,12.5]}',
        b'{"type":"LineString","coordinates":[[0,0],[1,1]]}',
        None,
    ]
    db.executemany(
        "INSERT INTO instances (iid, tenant, entity_id, name, at, created_at, modified_at, "
        "geometry, doc) VALUES (?, '', 'urn:x', ?, '2026', '2026', '2026', ?, x'7b7d')",
        [(n, LOCATION, g) for n, g in enumerate(geometries, start=1)],
    )
    db.close()
    got = await read_after_open(path, "SELECT iid, px, py FROM instances ORDER BY iid")
    assert got == [(1, 128.5, 35.8), (2, 128.0, 36.0), (3, None, None), (4, None, None)]
