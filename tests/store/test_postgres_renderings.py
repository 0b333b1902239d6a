"""PostgreSQL keeps each entity's default rendering with its document, as the embedded store
does: made by the write, made again under another version (at open, or in the background
when a rendering is set on an open store, reads getting the documents until it is done)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from dalgu.broker.mutations import create
from dalgu.store.base import StoredRendering
from dalgu.store.postgres import PostgresEntityStore
from dalgu.store.postgres import renderings as pg_renderings
from tests.store.test_postgres_store import scratch_database
from tests.store.test_sqlite_renderings import tagged
from tests.store.test_sqlite_store import thing


def by(tag: str, n: int) -> StoredRendering:
    return StoredRendering(orjson.dumps({"by": tag, "id": thing(n)["id"]}), None)


async def test_renderings_are_written_and_made_again_under_another_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pg_renderings, "CHUNK", 2)
    async with scratch_database() as dsn:
        plain = PostgresEntityStore(dsn, pool_size=2)  # keeps none: readers get documents
        await plain.open()
        try:
            await plain.mutate("", [(thing(0)["id"], create(thing(0)))])
            assert await plain.get_rendered("", thing(0)["id"]) == StoredRendering(
                None, orjson.dumps(thing(0))
            )
        finally:
            await plain.close()

        first = PostgresEntityStore(dsn, pool_size=2)
        first.use_rendering(tagged("a"))
        await first.open()  # the entity written without one is rendered as it opens
        try:
            assert await first.get_rendered("", thing(0)["id"]) == by("a", 0)
            for n in range(1, 5):
                await first.mutate("", [(thing(n)["id"], create(thing(n)))])
            assert [await first.get_rendered("", thing(n)["id"]) for n in range(5)] == [
                by("a", n) for n in range(5)
            ]
            assert await first.get_rendered("", "urn:ngsi-ld:Thing:9") is None
            # a rendering of another version set on the open store: made again in the
            # background; meanwhile reads get the documents, never version a's bytes
            first.use_rendering(tagged("b"))
            during = await first.get_rendered("", thing(1)["id"])
            assert during in (StoredRendering(None, orjson.dumps(thing(1))), by("b", 1))
            assert first._refreshing is not None
            await first._refreshing
            assert [await first.get_rendered("", thing(n)["id"]) for n in range(5)] == [
                by("b", n) for n in range(5)
            ]
        finally:
            await first.close()

        again = PostgresEntityStore(dsn, pool_size=2)
        again.use_rendering(tagged("b"))
        await again.open()
        try:
            async with again.pool.acquire() as conn:
                assert await pg_renderings.refresh(conn, tagged("b")) == 0  # current
            assert await again.get_rendered("", thing(3)["id"]) == by("b", 3)
        finally:
            await again.close()


async def test_many_reads_at_once_each_get_their_own_entity_and_tenant() -> None:
    """Reads by id sent at once (those that wait are read together): every caller gets its
    own entity's rendering, an id that is missing gets None, and no tenant sees another's."""
    async with scratch_database() as dsn:
        store = PostgresEntityStore(dsn, pool_size=2)
        store.use_rendering(tagged("a"))
        await store.open()
        try:
            for tenant in ("", "other"):
                await store.mutate(tenant, [(thing(n)["id"], create(thing(n))) for n in range(20)])
            await store.mutate("third", [(thing(0)["id"], create(thing(0)))])
            asked = [
                (tenant, f"urn:ngsi-ld:Thing:{n}")
                for n in (*range(25), 3, 3)
                for tenant in ("", "other", "third", "none")
            ]
            got = await asyncio.gather(*(store.get_rendered(t, i) for t, i in asked))
        finally:
            await store.close()
    for (tenant, entity_id), rendering in zip(asked, got, strict=True):
        n = int(entity_id.rsplit(":", 1)[1])
        exists = (tenant in ("", "other") and n < 20) or (tenant == "third" and n == 0)
        assert rendering == (by("a", n) if exists else None), (tenant, entity_id)
