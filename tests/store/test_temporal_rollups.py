"""Aggregations read from the hourly rollups give the answer the instances give, on both stores:
on random histories written through entity changes (alone and in batches, several readings of
one meter in one commit) and the temporal API, after instances are
deleted, replaced and forgotten by retention, with several datasetIds, readings on the hours'
bounds, and periods that end within an hour."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
import pytest_asyncio

from dalgu.query.ast import TypeName
from dalgu.query.duration import parse_duration
from dalgu.store.base import Entity, TemporalQuery
from dalgu.store.rollup import rollup_plan
from dalgu.store.sqlite import SqliteEntityStore

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
METER = "https://example.org/Meter"
POWER = "https://example.org/power"
STATE = "https://example.org/state"
DATASETS = (None, "urn:ngsi-ld:Dataset:a", "urn:ngsi-ld:Dataset:b")
START = datetime(2026, 1, 30, 22, tzinfo=UTC)  # the month changes within the history
METHODS = ("totalCount", "sum", "avg", "min", "max", "stddev", "sumsq")
EXACT = ("totalCount", "min", "max")


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "sqlite":
        s: Any = SqliteEntityStore(tmp_path / "dalgu.db")
        await s.open()
        yield s
        await s.close()
        return
    from dalgu.store.postgres import PostgresEntityStore

    name = f"dalgu_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        s = PostgresEntityStore(f"postgresql://postgres@127.0.0.1:5432/{name}", pool_size=2)
        await s.open()
        yield s
        await s.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _text(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _moment(rng: random.Random) -> datetime:
    """A time in the 30 hours from START, often exactly on an hour or just before one."""
    hour = START + timedelta(hours=rng.randrange(30))
    kind = rng.random()
    if kind < 0.25:
        return hour
    if kind < 0.4:
        return hour - timedelta(milliseconds=1)
    return hour + timedelta(milliseconds=rng.randrange(3_600_000))


def _value(rng: random.Random, attribute: str) -> Any:
    if attribute == STATE and rng.random() < 0.5:
        return rng.choice(["on", "off", True, {"level": 2}])
    if rng.random() < 0.3:
        return rng.randrange(-50, 50)
    return round(rng.uniform(-1000, 1000), rng.randrange(1, 6))


def _instance(rng: random.Random, attribute: str, dataset: str | None) -> dict[str, Any]:
    instance = {
        "type": "Property",
        "value": _value(rng, attribute),
        "observedAt": _text(_moment(rng)),
    }
    if dataset is not None:
        instance["datasetId"] = dataset
    return instance


async def _write_history(store: Any, tenant: str, rng: random.Random) -> list[str]:
    """Entity changes (the broker's history path) and temporal API writes, then deletions,
    replacements and a retention sweep. Returns the entity ids."""
    ids = [f"urn:ngsi-ld:Meter:{n}" for n in range(3)]
    together: list[tuple[str, Any]] = []  # changes written in one call, as a batch is
    for _ in range(40):
        entity_id = rng.choice(ids)
        instances = {
            a: [_instance(rng, a, d) for d in DATASETS if rng.random() < 0.7]
            for a in (POWER, STATE)
        }

        def change(
            stored: Entity | None, instances: Any = instances, entity_id: str = entity_id
        ) -> Entity:
            entity: Entity = dict(stored or {"id": entity_id, "type": [METER]})
            entity["createdAt"] = entity.get("createdAt", "2026-01-01T00:00:00Z")
            entity["modifiedAt"] = "2026-01-01T00:00:00Z"
            for attribute, values in instances.items():
                if values:
                    entity[attribute] = values
            return entity

        together.append((entity_id, change))
        if rng.random() < 0.3:  # several readings of a meter in one commit, often one hour
            await store.mutate(tenant, together)
            together = []
    if together:
        await store.mutate(tenant, together)
    for entity_id in ids:  # the temporal API: append, and replace readings at the same time
        attrs = {POWER: [_instance(rng, POWER, rng.choice(DATASETS)) for _ in range(30)]}
        await store.add_instances(tenant, entity_id, [METER], attrs, replace_same_time=True)
    found, _ = await store.temporal_query(
        tenant, TemporalQuery(ids=tuple(ids), timeproperty="observedAt", limit=10)
    )
    instances = [
        (e.id, name, i["instanceId"])
        for e in found
        for name, kept in e.instances.items()
        for i in kept
    ]
    for entity_id, name, iid in rng.sample(instances, 15):
        await store.delete_history(tenant, entity_id, name, instance_id=iid)
    for entity_id, name, iid in rng.sample(instances, 15):
        fresh = _instance(rng, name, None)
        await store.replace_instance(tenant, entity_id, name, iid, fresh)
    await store.delete_history(tenant, ids[0], STATE, dataset_id=DATASETS[1])
    await store.retention(tenant, START + timedelta(hours=2, minutes=17))
    return ids


def _queries(ids: list[str]) -> list[TemporalQuery]:
    base = TemporalQuery(
        types=TypeName(METER),
        aggregate=METHODS,
        limit=100,
        timerel="between",
        time_at="2026-01-30T23:00:00Z",
        end_time_at="2026-02-01T03:00:00Z",
        period=parse_duration("PT1H"),
    )
    return [
        base,
        replace(base, period=parse_duration("PT2H")),
        replace(base, period=parse_duration("P1D"), time_at="2026-01-30T22:00:00Z"),
        replace(base, period=parse_duration("P1M")),
        replace(base, end_time_at="2026-01-31T20:30:00.250Z"),  # a partial last hour
        replace(base, end_time_at="2026-01-31T20:00:00.001Z"),
        replace(base, timerel="after", end_time_at=None),
        replace(base, dataset_ids=("@none", DATASETS[2] or "")),
        replace(base, dataset_ids=(DATASETS[1] or "",)),  # one rollup row per hour
        replace(base, attrs=(STATE,), ids=(ids[0], ids[2])),
        replace(base, aggregate=("max", "totalCount")),
    ]


def _compare(rolled: dict[str, Any], plain: dict[str, Any], what: str) -> None:
    assert rolled.keys() == plain.keys(), what
    for attribute, methods in rolled.items():
        for method, buckets in methods.items():
            expected = plain[attribute][method]
            where = f"{what} {attribute} {method}"
            assert [b[1:] for b in buckets] == [b[1:] for b in expected], where
            got = [b[0] for b in buckets]
            want = [b[0] for b in expected]
            assert [type(v) for v in got] == [type(v) for v in want], where
            if method in EXACT:
                assert got == want, where
            else:  # sums added in another order may differ in the last bits
                numbers = [(g, w) for g, w in zip(got, want, strict=True) if w is not None]
                assert [g for g, _ in numbers] == pytest.approx(
                    [w for _, w in numbers], rel=1e-9, abs=1e-9
                ), where


@pytest.mark.parametrize("seed", [3, 17, 2026])
async def test_rollups_answer_as_the_instances_do(store: Any, seed: int) -> None:
    tenant = f"t{seed}"
    ids = await _write_history(store, tenant, random.Random(seed))
    for query in _queries(ids):
        assert rollup_plan(query) is not None, query
        # distinctCount is not rolled up: asking for it too reads the instances
        plain_query = replace(query, aggregate=(*query.aggregate, "distinctCount"))
        assert rollup_plan(plain_query) is None
        rolled, _ = await store.temporal_query(tenant, query)
        plain, _ = await store.temporal_query(tenant, plain_query)
        assert [e.id for e in rolled] == [e.id for e in plain]
        assert any(e.aggregates for e in rolled), query
        for r, p in zip(rolled, plain, strict=True):
            for methods in p.aggregates.values():
                methods.pop("distinctCount")
            # as the response shows them (large bucket lists come as their JSON)
            shown = orjson.loads(orjson.dumps(r.aggregates))
            _compare(shown, orjson.loads(orjson.dumps(p.aggregates)), f"{r.id} {query}")


def test_only_whole_hours_from_an_hour_read_the_rollups() -> None:
    hourly = TemporalQuery(
        timerel="after",
        time_at="2026-01-01T05:00:00Z",
        aggregate=("avg",),
        period=parse_duration("PT1H"),
    )
    assert rollup_plan(hourly) is not None
    assert rollup_plan(replace(hourly, time_at="2026-01-01T05:30:00Z")) is None
    assert rollup_plan(replace(hourly, time_at="2026-01-01T05:00:00+05:30")) is None
    assert rollup_plan(replace(hourly, period=parse_duration("PT30M"))) is None
    assert rollup_plan(replace(hourly, period=parse_duration("PT90M"))) is None
    assert rollup_plan(replace(hourly, period=None)) is None
    assert rollup_plan(replace(hourly, timerel="before")) is None
    assert rollup_plan(replace(hourly, timeproperty="createdAt")) is None
    assert rollup_plan(replace(hourly, aggregate=("avg", "distinctCount"))) is None
    short = replace(hourly, timerel="between", end_time_at="2026-01-01T05:59:00Z")
    assert rollup_plan(short) is None
