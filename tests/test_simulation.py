"""The simulated city: deterministic, inside Daegu, defined by its @context, loadable."""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from datetime import UTC, datetime
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from pyld import jsonld
from shapely.geometry import shape

from dalgu.cli.demo import load_city
from dalgu.settings import Settings
from dalgu.simulation import DAEGU_BBOX, DISTRICTS, city_entities, tick
from dalgu.simulation.wifi import ZONES as WIFI_ZONES
from dalgu.store.base import EntityQuery
from dalgu.store.sqlite import SqliteEntityStore
from tests.conftest import NO_GATEWAY_PORTS

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)  # 17:30 in Daegu
CORE_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
CORE_FILE = Path(__file__).parents[1] / "src/dalgu/ldcontext/core-context-v1.9.jsonld"
# the core context scopes the W3C data-integrity context into `ngsildproof`, which no entity
# here uses: an empty local stand-in keeps the expansion offline
DATA_INTEGRITY_URL = "https://w3id.org/security/data-integrity/v2"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
TYPES = {"ParkingSpot", "AirQualityObserved", "TrafficFlowObserved", "Device"}
ID = re.compile(r"^urn:ngsi-ld:(\w+):daegu-([a-z-]+)-(\d+)$")


def city_context() -> dict[str, Any]:
    raw = resources.files("dalgu.simulation").joinpath("context.jsonld").read_bytes()
    document: dict[str, Any] = orjson.loads(raw)
    return document


def local_documents(url: str, options: object = None) -> dict[str, Any]:
    """A pyld document loader that serves local documents and never the network."""
    if url == CORE_URL:
        document = orjson.loads(CORE_FILE.read_bytes())
    elif url == DATA_INTEGRITY_URL:
        document = {"@context": {}}
    else:
        raise AssertionError(f"the expansion asked for {url}")
    return {"contextUrl": None, "documentUrl": url, "document": document}


def test_same_seed_and_time_give_the_same_city() -> None:
    assert city_entities(60, seed=1, now=NOW) == city_entities(60, seed=1, now=NOW)


def test_another_seed_gives_another_city() -> None:
    assert city_entities(60, seed=1, now=NOW) != city_entities(60, seed=2, now=NOW)


def test_city_has_the_count_and_the_type_mix() -> None:
    kinds = Counter(e["type"] for e in city_entities(300, now=NOW))
    assert sum(kinds.values()) == 300
    assert set(kinds) == TYPES
    assert kinds["ParkingSpot"] == 150
    assert kinds["Device"] == kinds["AirQualityObserved"] + kinds["TrafficFlowObserved"]
    assert kinds["AirQualityObserved"] >= 20 and kinds["TrafficFlowObserved"] >= 20


@pytest.mark.parametrize("count", [0, 1, 7, 8, 301])
def test_small_and_odd_counts_are_exact(count: int) -> None:
    assert len(city_entities(count, now=NOW)) == count


def test_ids_are_unique_urns_naming_type_and_district() -> None:
    entities = city_entities(300, now=NOW)
    assert len({e["id"] for e in entities}) == 300
    slugs = {d.lower() for d in DISTRICTS}
    for entity in entities:
        match = ID.match(entity["id"])
        assert match, entity["id"]
        assert match[1] == entity["type"] and match[2] in slugs


def test_every_district_has_every_type() -> None:
    seen = {(ID.match(e["id"])[2], e["type"]) for e in city_entities(300, now=NOW)}  # type: ignore[index]
    assert len(seen) == len(DISTRICTS) * len(TYPES)


def test_every_geometry_is_valid_geojson_inside_daegu() -> None:
    west, south, east, north = DAEGU_BBOX
    assert DAEGU_BBOX == (128.50, 35.80, 128.70, 35.93)
    for entity in city_entities(300, now=NOW):
        geometry = entity["location"]["value"]
        assert entity["location"]["type"] == "GeoProperty"
        expected = "LineString" if entity["type"] == "TrafficFlowObserved" else "Point"
        assert geometry["type"] == expected
        positions = (
            geometry["coordinates"] if expected == "LineString" else [geometry["coordinates"]]
        )
        assert all(len(p) == 2 and all(isinstance(c, float) for c in p) for p in positions)
        parsed = shape(geometry)
        assert parsed.is_valid and not parsed.is_empty
        minx, miny, maxx, maxy = parsed.bounds
        assert west <= minx and maxx <= east and south <= miny and maxy <= north, entity["id"]


def test_observations_name_an_existing_device() -> None:
    entities = city_entities(300, now=NOW)
    devices = {e["id"] for e in entities if e["type"] == "Device"}
    referenced = [e["refDevice"]["object"] for e in entities if "refDevice" in e]
    assert sorted(referenced) == sorted(devices)


def test_readings_carry_units_and_observation_times() -> None:
    entities = city_entities(100, now=NOW)
    air = next(e for e in entities if e["type"] == "AirQualityObserved")
    assert {air[k]["unitCode"] for k in ("pm10", "pm25", "no2", "o3")} == {"GQ"}
    assert air["temperature"]["unitCode"] == "CEL"
    assert air["pm25"]["value"] <= air["pm10"]["value"]
    assert air["address"]["value"]["addressLocality"] == "Daegu"
    assert air["address"]["value"]["addressCountry"] == "KR"
    assert air["address"]["value"]["streetAddress"]
    traffic = next(e for e in entities if e["type"] == "TrafficFlowObserved")
    assert traffic["averageVehicleSpeed"]["unitCode"] == "KMH"
    for entity in (air, traffic):
        assert (
            entity["pm10" if entity is air else "intensity"]["observedAt"] <= "2026-11-25T08:30:00Z"
        )


def test_some_entities_carry_their_district_as_scope() -> None:
    scoped = [e for e in city_entities(300, now=NOW) if "scope" in e]
    assert 50 < len(scoped) < 300
    for entity in scoped:
        district = next(d for d in DISTRICTS if f"daegu-{d.lower()}-" in entity["id"])
        assert entity["scope"] == f"/Daegu/{district}"


def _terms(node: Any) -> list[str]:
    """Every property IRI of an expanded JSON-LD document."""
    if isinstance(node, list):
        return [t for item in node for t in _terms(item)]
    if not isinstance(node, dict) or "@value" in node:
        return []
    return [t for k, v in node.items() for t in ([k] if k[0] != "@" else []) + _terms(v)]


def test_every_term_expands_to_a_smart_data_models_iri() -> None:
    context = city_context()["@context"]
    for entity in city_entities(60, now=NOW):
        document = {**entity, "@context": [context, CORE_URL]}
        [expanded] = jsonld.expand(document, {"documentLoader": local_documents})
        terms = _terms(expanded)
        assert not [t for t in terms if t.startswith(DEFAULT_VOCAB)], entity["id"]
        attributes = [k for k in entity if k not in ("id", "type")]
        iris = [k for k in expanded if k[0] != "@"]
        assert len(iris) == len(attributes)
        assert all(
            i.startswith(("https://smartdatamodels.org/", "https://uri.etsi.org/")) for i in iris
        )
        assert expanded["@type"] == [context[entity["type"]]]


def test_address_parts_expand_to_smart_data_models_iris() -> None:
    air = next(e for e in city_entities(20, now=NOW) if e["type"] == "AirQualityObserved")
    document = {**air, "@context": [city_context()["@context"], CORE_URL]}
    [expanded] = jsonld.expand(document, {"documentLoader": local_documents})
    terms = set(_terms(expanded))
    assert "https://smartdatamodels.org/addressLocality" in terms
    assert "https://smartdatamodels.org/streetAddress" in terms


def test_tick_is_deterministic_per_seed() -> None:
    first = tick(city_entities(100, now=NOW), random.Random(3), 0.5, now=NOW)
    assert first == tick(city_entities(100, now=NOW), random.Random(3), 0.5, now=NOW)


def test_tick_reports_only_changed_attributes_at_the_new_time() -> None:
    entities = city_entities(200, now=NOW)
    later = datetime(2026, 11, 25, 8, 31, tzinfo=UTC)
    updates = tick(entities, random.Random(3), share=0.5, now=later)
    assert 30 < len(updates) < 200
    for update in updates:
        attributes = {k: v for k, v in update.items() if k not in ("id", "type")}
        assert attributes
        assert "location" not in attributes and "refDevice" not in attributes
        stamps = {a["observedAt"] for a in attributes.values() if "observedAt" in a}
        assert stamps == {"2026-11-25T08:31:00Z"}


def test_tick_moves_parking_status_and_devices_with_their_stations() -> None:
    entities = city_entities(200, now=NOW)
    updates = tick(entities, random.Random(5), share=1.0, now=NOW)
    parking = [u for u in updates if u["type"] == "ParkingSpot"]
    assert parking and all(set(u) == {"id", "type", "status"} for u in parking)
    devices = {u["id"] for u in updates if u["type"] == "Device"}
    stations = [e for e in entities if "refDevice" in e]
    assert devices == {e["refDevice"]["object"] for e in stations}


def test_tick_applies_its_updates_so_readings_drift() -> None:
    entities = city_entities(40, now=NOW)
    rng = random.Random(9)
    air = next(e for e in entities if e["type"] == "AirQualityObserved")
    series = []
    for minute in range(30):
        when = datetime(2026, 11, 25, 9, minute, tzinfo=UTC)
        for update in tick(entities, rng, share=1.0, now=when):
            if update["id"] == air["id"]:
                series.append(update["pm10"]["value"])
                assert air["pm10"] == update["pm10"]
    assert len(series) == 30
    assert max(series) < 200 and min(series) >= 1
    assert max(abs(b - a) for a, b in pairwise(series)) < 20


def test_demo_load_hosts_the_context_and_the_entities(tmp_path: Path) -> None:
    settings = Settings.load(
        sqlite_path=tmp_path / "demo.db", mqtt_broker="off", **NO_GATEWAY_PORTS
    )
    assert asyncio.run(load_city(settings, 60)) == 60

    async def check() -> None:
        store = SqliteEntityStore(settings.sqlite_path)
        await store.open()
        assert await store.get_context("dalgu-city") is not None
        found = await store.query(
            "", EntityQuery(count=True, limit=0, attrs=("https://uri.etsi.org/ngsi-ld/location",))
        )
        # the city and its public Wi-Fi (zones and access points, all located)
        assert found.count == 60 + sum(z[5] + 1 for z in WIFI_ZONES)
        await store.close()

    asyncio.run(check())
