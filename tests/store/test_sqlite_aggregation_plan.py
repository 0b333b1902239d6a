"""Aggregating attributes whose values are not numbers (the README's `aggrMethods=avg,max` over
vehicles with a brand and a plate) reads each asked attribute's instances through the history
index: SQLite had planned the join the other way round and walked every instance of the store
for each query (24 s at 100,000 vehicles, blocking every other client; an outside test)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from dalgu.broker.model import now_iso
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.ldcontext import ContextResolver
from dalgu.store.sqlite import SqliteEntityStore
from dalgu.temporal.query import temporal_query
from dalgu.temporal.service import TemporalService


def vehicle(n: int, speed: float) -> dict[str, object]:
    return {
        "id": f"urn:ngsi-ld:Vehicle:{n:04d}",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": speed},
        "brandName": {"type": "Property", "value": f"brand {n % 3}"},
    }


@pytest.mark.asyncio
async def test_string_aggregates_read_instances_by_index(tmp_path: Path) -> None:
    store = SqliteEntityStore(tmp_path / "dalgu.db")
    await store.open()
    try:
        terms = ContextResolver().core
        service = EntityService(store)
        for rnd in range(3):
            batch = [parse_entity(vehicle(n, rnd + n), terms, now_iso()) for n in range(300)]
            await service.batch_upsert("", batch, "replace")
        params = {
            "type": "Vehicle",
            "timerel": "after",
            "timeAt": "2020-01-01T00:00:00Z",
            "timeproperty": "modifiedAt",
            "aggrMethods": "avg,max,distinctCount",
            "aggrPeriodDuration": "PT1H",
        }
        query = temporal_query(
            params, terms, limit=20, offset=0, aggregated=True, require_filter=True
        )
        statements: list[str] = []
        store.db.set_trace_callback(statements.append)
        try:
            page = await TemporalService(store).query("", query)
        finally:
            store.db.set_trace_callback(None)
        brand = "https://uri.etsi.org/ngsi-ld/default-context/brandName"
        found = orjson.loads(orjson.dumps(page.entities[0].aggregates[brand]))
        assert found["distinctCount"][0][0] == 1  # one brand per vehicle, in its one hour
        joins = [s for s in statements if "JOIN instances i" in s and "json_each" in s]
        assert joins, statements
        for sql in joins:
            plan = [row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql)]
            # each attribute's instances sought by entity, not the tenant's walked whole
            (step,) = [step for step in plan if step.startswith(("SCAN i", "SEARCH i "))]
            assert "entity_id=?" in step, plan
    finally:
        await store.close()
