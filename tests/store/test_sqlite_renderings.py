"""The SQLite store keeps each entity's default rendering with its document: made by the write
that changes the document, and made again for every entity when the store is opened under a
rendering of another version (an upgrade), so that a read never sends what other code made."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from dalgu.broker import rendered as rendered_module
from dalgu.broker.mutations import create
from dalgu.broker.rendered import default_rendering
from dalgu.store.base import DefaultRendering, StoredRendering
from dalgu.store.sqlite import SqliteEntityStore, renderings
from tests.store.test_sqlite_store import thing


def tagged(tag: str) -> DefaultRendering:
    """A rendering that says which version made it."""
    return DefaultRendering(tag, lambda e: orjson.dumps({"by": tag, "id": e["id"]}))


async def write(store: SqliteEntityStore, n: int) -> None:
    await store.mutate("", [(thing(n)["id"], create(thing(n)))])


async def rendered(store: SqliteEntityStore, n: int) -> StoredRendering:
    found = await store.get_rendered("", thing(n)["id"])
    assert found is not None
    return found


async def test_a_write_keeps_the_rendering_and_a_read_gets_it(tmp_path: Path) -> None:
    store = SqliteEntityStore(tmp_path / "d.db")
    store.use_rendering(default_rendering())
    await store.open()
    try:
        await write(store, 1)
        found = await rendered(store, 1)
        assert found.document is None
        assert orjson.loads(found.rendered or b"") == {
            "id": "urn:ngsi-ld:Thing:1",
            "type": "https://example.org/Thing",
            "https://example.org/n": {"type": "Property", "value": 1},
        }
        assert await store.get_rendered("", "urn:ngsi-ld:Thing:2") is None
    finally:
        await store.close()


async def test_entities_written_without_a_rendering_are_rendered_when_one_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(renderings, "CHUNK", 2)  # several chunks for five entities
    store = SqliteEntityStore(tmp_path / "d.db")
    await store.open()
    try:
        for n in range(5):
            await write(store, n)
        # no rendering kept: the reader gets the document to render
        assert await rendered(store, 3) == StoredRendering(None, orjson.dumps(thing(3)))
        store.use_rendering(tagged("a"))
        for n in range(5):
            assert await rendered(store, n) == StoredRendering(
                orjson.dumps({"by": "a", "id": thing(n)["id"]}), None
            )
    finally:
        await store.close()


async def test_opening_under_another_version_renders_every_entity_again(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    first = SqliteEntityStore(path)
    first.use_rendering(tagged("a"))
    await first.open()
    for n in range(3):
        await write(first, n)
    await first.close()

    again = SqliteEntityStore(path)  # the same version: nothing is made again
    again.use_rendering(tagged("a"))
    await again.open()
    assert renderings.refresh(again.db, tagged("a")) == 0
    await again.close()

    upgraded = SqliteEntityStore(path)
    upgraded.use_rendering(tagged("b"))
    await upgraded.open()
    try:
        for n in range(3):
            assert (await rendered(upgraded, n)).rendered == orjson.dumps(
                {"by": "b", "id": thing(n)["id"]}
            )
        await write(upgraded, 7)
        assert (await rendered(upgraded, 7)).rendered == orjson.dumps(
            {"by": "b", "id": thing(7)["id"]}
        )
    finally:
        await upgraded.close()


def test_the_version_follows_the_core_context(monkeypatch: pytest.MonkeyPatch) -> None:
    made = rendered_module.default_rendering.__wrapped__
    assert made().version == default_rendering().version  # the same code and context
    monkeypatch.setattr(rendered_module, "core_context_bytes", lambda: b'{"@context": {}}')
    assert made().version != default_rendering().version
