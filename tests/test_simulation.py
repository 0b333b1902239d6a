"""The simulated city: deterministic, valid, and loadable through the broker."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from dalgu.cli.demo import city_context, load_city
from dalgu.query.geo import shape_from_geojson
from dalgu.settings import Settings
from dalgu.simulation import DISTRICTS, city_entities, tick
from dalgu.store.base import EntityQuery
from dalgu.store.sqlite import SqliteEntityStore


def test_city_is_deterministic_per_seed() -> None:
    assert city_entities(40, seed=1) == city_entities(40, seed=1)
    assert city_entities(40, seed=1) != city_entities(40, seed=2)


def test_city_mixes_types_inside_daegu() -> None:
    entities = city_entities(200)
    assert len({e["id"] for e in entities}) == 200
    assert {e["type"] for e in entities} == {
        "ParkingSpot",
        "AirQualityObserved",
        "TrafficFlowObserved",
        "Device",
    }
    for entity in entities:
        shape = shape_from_geojson(entity["location"]["value"])
        minx, miny, maxx, maxy = shape.bounds
        assert minx > 128.45 and maxx < 128.75 and miny > 35.75 and maxy < 35.95


def test_every_term_is_defined_by_the_city_context() -> None:
    terms = city_context()["@context"]
    core = {"id", "type", "scope", "location"}
    for entity in city_entities(40):
        for name in entity:
            assert name in core or name in terms, name
        assert entity["type"] in terms


def test_tick_changes_some_readings() -> None:
    entities = city_entities(100)
    updates = tick(entities, random.Random(3), share=0.5)
    assert 20 < len(updates) < 80
    assert all(set(u) - {"id", "type"} for u in updates)


def test_demo_load_hosts_the_context_and_the_entities(tmp_path: Path) -> None:
    settings = Settings.load(sqlite_path=tmp_path / "demo.db")
    assert asyncio.run(load_city(settings, 60)) == 60

    async def check() -> None:
        store = SqliteEntityStore(settings.sqlite_path)
        await store.open()
        assert await store.get_context("dalgu-city") is not None
        found = await store.query(
            "", EntityQuery(count=True, limit=0, attrs=("https://uri.etsi.org/ngsi-ld/location",))
        )
        assert found.count == 60
        await store.close()

    asyncio.run(check())
    assert len(DISTRICTS) == 8
