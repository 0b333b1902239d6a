"""The store's connections send and read `timestamptz` exactly as asyncpg's own codec does
(`store/postgres/times.py` caches the conversion): the same stored instant for every kind of
value a caller may pass, and the same Python value back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg
import pytest

from dalgu.store.postgres import PostgresEntityStore
from tests.store.test_postgres_store import dsn, store

__all__ = ["dsn", "store"]

SEOUL = timezone(timedelta(hours=9))
VALUES = [
    datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC),
    datetime(2026, 12, 4, 10, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 12, 4, 19, 0, 0, tzinfo=SEOUL),  # the same instant as the first
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before PostgreSQL's epoch
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(2026, 12, 4, 10, 0, 0),  # naive: local time, as asyncpg reads it
    datetime.max,  # infinity
    datetime.min,  # -infinity
    date(2026, 12, 4),  # local midnight
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
async def test_a_time_is_stored_and_read_as_asyncpg_does(
    store: PostgresEntityStore, dsn: str, value: datetime
) -> None:
    plain = await asyncpg.connect(dsn)  # asyncpg's own codec
    try:
        expected_text = await plain.fetchval("SELECT $1::timestamptz::text", value)
        expected = await plain.fetchval("SELECT $1::timestamptz", value)
        async with store.pool.acquire() as conn:
            got_text = await conn.fetchval("SELECT $1::timestamptz::text", value)
            got = await conn.fetchval("SELECT $1::timestamptz", value)
            again = await conn.fetchval("SELECT $1::timestamptz", value)  # from the cache
            read = await conn.fetchval("SELECT $1::text::timestamptz", expected_text)
    finally:
        await plain.close()
    assert got_text == expected_text
    assert got == expected == again == read
    assert type(got) is type(expected) and got.tzinfo == expected.tzinfo


async def test_a_value_that_is_no_time_is_refused(store: PostgresEntityStore) -> None:
    async with store.pool.acquire() as conn:
        with pytest.raises(asyncpg.DataError):
            await conn.fetchval("SELECT $1::timestamptz", "2026-12-04")
