"""A `q` on value strings driven from the one index of them (`attrs_string`, `plan.py`): an
equality seeks the literal's collation prefix and text, a range reads the strings without a
prefix (times, dates) by their text and tests the others', and either gives what testing every
entity gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from dalgu.store.base import EntityQuery
from dalgu.store.sqlite import SqliteEntityStore
from dalgu.store.sqlite import store as sqlite_store
from tests.store.ordered_entities import creates
from tests.store.test_sqlite_query_plan import plans, q, traced

# equalities: strings whose primary weights tie (case, accents, width) but not their text,
# the empty string, a combining mark against its composed form, a contraction start, times
# and dates (no prefix), and a string nobody has; ranges: of plain strings, of dates, and
# plain against temporal literals (a plain string can lie between two dates by its code
# points)
EQUAL = [
    'label=="apple"',
    'label=="APPLE"',
    'label=="äpple"',
    'label==""',
    'label=="é"',
    'label=="e\u0301"',
    'label=="L·lum"',
    'label=="대구"',
    'label=="2026-12-06"',
    'label=="10:00"',
    'label=="2026-12-06T04:00:00Z"',
    'label=="nobody has this"',
    'label=="apple";label<"b"',
]
RANGES = [
    'label>"b"',
    'label<"a2"',
    'label>="2026-12-06"',
    'label=="a".."c"',
    'label>"10:00";label<"zz"',
    'label<"2026-12-06"',
    'label>"대"',
]
# ranges whose bounds share a beginning that fixes the collation prefix: the plain strings in
# range are a seek too
SHARED = [
    'label=="10가0001".."10가0002"',
    'label>="apple";label<="apples"',
    'label>"caf";label<"cafz"',
]


@pytest.fixture
async def store(tmp_path: Path) -> SqliteEntityStore:  # type: ignore[misc]
    s = SqliteEntityStore(tmp_path / "dalgu.db")
    await s.open()
    await s.mutate("", creates())
    yield s  # type: ignore[misc]
    await s.close()


def matches(store: SqliteEntityStore, query: EntityQuery) -> tuple[list[str], int | None]:
    store.db.execute("BEGIN")
    try:
        result = store._query("", query)
        return sorted(e["id"] for e in result.entities), result.count
    finally:
        store.db.execute("COMMIT")


@pytest.mark.parametrize("text", EQUAL + RANGES + SHARED)
async def test_a_driven_string_q_finds_what_testing_every_entity_finds(
    store: SqliteEntityStore, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = EntityQuery(q=q(text), limit=1000, count=True)
    assert any("kind = 's' AND num IS" in sql for sql in traced(store, query)), text
    driven = matches(store, query)
    monkeypatch.setattr(sqlite_store, "choose", lambda *_: None)
    assert driven == matches(store, query)
    if "nobody" not in text:
        assert driven[0], text  # the data holds matches: the comparison tells something


@pytest.mark.parametrize("text", EQUAL[:-1])
async def test_an_equality_is_one_seek_of_prefix_and_text(
    store: SqliteEntityStore, text: str
) -> None:
    query = EntityQuery(q=q(text), limit=5)
    found = [p for p in plans(store, query) if "attrs_string" in p]
    assert found and all("num=? AND txt=?" in p for p in found), plans(store, query)


@pytest.mark.parametrize("text", SHARED)
async def test_a_range_whose_bounds_fix_the_prefix_seeks_it(
    store: SqliteEntityStore, text: str
) -> None:
    query = EntityQuery(q=q(text), limit=5)
    found = [p for p in plans(store, query) if "attrs_string" in p]
    # both parts seek (`num>?` would be the plain strings read through)
    assert found and all("num=? AND txt>" in p and "num>?" not in p for p in found), found
