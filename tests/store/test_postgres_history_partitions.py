"""The history's partitions on PostgreSQL (`postgres/partitions.py`): a month of its own from
1970 to a year ahead, every other time in the default partition, from an outside test in
which 300 writes with a bad clock made 300 partitions and slowed every history query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.query.duration import add_months
from dalgu.settings import Settings
from dalgu.store.postgres import partitions
from tests.conftest import IN_PROCESS, fresh_database

pytestmark = pytest.mark.postgres

E = "/ngsi-ld/v1/entities"
T = "/ngsi-ld/v1/temporal/entities"
SENSOR = "urn:ngsi-ld:Sensor:clock"


@pytest.fixture
def dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_database(request) as name:
        yield f"postgresql://postgres@127.0.0.1/{name}"


@pytest.fixture
def client(dsn: str) -> Iterator[TestClient]:
    settings = Settings.load(store="postgres", postgres_dsn=dsn, mqtt_broker="off", **IN_PROCESS)
    with TestClient(build_app(settings)) as test_client:
        yield test_client


def _reading(client: TestClient, value: int, at: str) -> None:
    body = {"value": value, "observedAt": at}
    response = client.patch(f"{E}/{SENSOR}/attrs/v", json=body)
    assert response.status_code == 204, response.text


async def _query(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def _partitions(dsn: str) -> set[str]:
    import asyncio

    rows = asyncio.run(
        _query(
            dsn,
            "SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
            "JOIN pg_class p ON p.oid = h.inhparent WHERE p.relname = 'instances'",
        )
    )
    return {r[0] for r in rows}


def test_times_far_from_now_share_the_default_partition(client: TestClient, dsn: str) -> None:
    created = client.post(E, json={"id": SENSOR, "type": "Sensor", "v": 0})
    assert created.status_code == 201
    before = _partitions(dsn)
    years = [1700 + k for k in range(40)] + [2300 + k for k in range(10)]
    for k, year in enumerate(years):
        _reading(client, k, f"{year}-0{1 + k % 9}-15T00:00:00Z")
    assert _partitions(dsn) == before  # no month of its own for any of them
    history = client.get(f"{T}/{SENSOR}", params={"attrs": "v", "lastN": "100"}).json()
    times = [i["observedAt"][:4] for i in history["v"] if "observedAt" in i]
    assert sorted(times) == sorted(str(y) for y in years)
    # a month within the bound still gets its own
    _reading(client, 99, "2001-03-01T00:00:00Z")
    assert _partitions(dsn) == before | {"instances_2001_03"}


def test_a_month_that_comes_within_the_bound_takes_its_instances_along(
    client: TestClient, dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readings of a month more than a year ahead wait in the default partition; when that
    month gets its partition (time went by), they move into it (attaching the range over rows
    the default partition holds is an error)."""
    client.post(E, json={"id": SENSOR, "type": "Sensor", "v": 0})
    ahead = add_months(partitions.month_of(datetime.now(UTC)), 20)
    first = ahead.replace(day=3).isoformat().replace("+00:00", "Z")
    second = ahead.replace(day=9).isoformat().replace("+00:00", "Z")
    _reading(client, 1, first)
    name = partitions.partition_name(ahead)
    assert name not in _partitions(dsn)
    monkeypatch.setattr(partitions, "MONTHS_KEPT_AHEAD", 24)  # twelve months later
    _reading(client, 2, second)
    assert name in _partitions(dsn)
    import asyncio

    other = asyncio.run(_query(dsn, "SELECT count(*) FROM instances_other"))[0][0]
    moved = asyncio.run(_query(dsn, f"SELECT count(*) FROM {name}"))[0][0]
    assert (other, moved) == (0, 2)
    history = client.get(
        f"{T}/{SENSOR}",
        params={"attrs": "v", "timerel": "after", "timeAt": first, "format": "temporalValues"},
    ).json()
    assert history["v"]["values"] == [[1, first], [2, second]]
