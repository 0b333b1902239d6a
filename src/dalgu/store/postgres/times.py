"""`timestamptz` values between the store's connections and PostgreSQL.

asyncpg converts every datetime it sends anew (a time-zone conversion and a subtraction, about
0.6 µs); a reading's history record carries four (`at`, observedAt, createdAt, modifiedAt)
and the hourly rollups one more: 2.2 µs of client CPU per stored instance in
`copy_records_to_table`, some 5% of what the server spends on it. The times of one write
repeat (a batch of readings shares its observedAt, every record of it its createdAt and
modifiedAt), so the store's connections convert through a small cache instead.

The wire format (binary: microseconds since 2000-01-01 UTC as an int64) and the Python values
are asyncpg's own: aware UTC datetimes are read; a naive datetime sent is local time, a date
is local midnight; ±infinity are `datetime.max` and `datetime.min` (naive), both ways.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_INFINITY = 0x7FFFFFFFFFFFFFFF
_NEGATIVE_INFINITY = -0x8000000000000000
# the microseconds asyncpg takes for ±infinity when an aware time equals them
_INFINITY_MICROSECONDS = 252455615999999999
_NEGATIVE_INFINITY_MICROSECONDS = -63082281600000000


async def use_cached_times(conn: Any) -> None:
    """Make `conn` convert `timestamptz` values through `encode` and `decode` (a pool's init)."""
    await conn.set_type_codec(
        "timestamptz", schema="pg_catalog", encoder=encode, decoder=decode, format="tuple"
    )


@lru_cache(maxsize=4096)
def encode(value: date) -> tuple[int]:
    """A date-time as microseconds since 2000-01-01 UTC, as asyncpg sends it."""
    if not isinstance(value, datetime):
        if not isinstance(value, date):
            raise TypeError(f"expected a datetime.date or datetime.datetime, got {value!r}")
        value = datetime(value.year, value.month, value.day, tzinfo=_local_timezone())
    if value == datetime.max:
        return (_INFINITY,)
    if value == datetime.min:
        return (_NEGATIVE_INFINITY,)
    delta = value.astimezone(UTC) - PG_EPOCH
    microseconds = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    if microseconds == _INFINITY_MICROSECONDS:
        return (_INFINITY,)
    if microseconds == _NEGATIVE_INFINITY_MICROSECONDS:
        return (_NEGATIVE_INFINITY,)
    return (microseconds,)


@lru_cache(maxsize=4096)
def decode(value: tuple[int]) -> datetime:
    """The aware UTC datetime of microseconds since 2000-01-01 UTC, as asyncpg reads it."""
    (microseconds,) = value
    if microseconds == _INFINITY:
        return datetime.max
    if microseconds == _NEGATIVE_INFINITY:
        return datetime.min
    return PG_EPOCH + timedelta(microseconds=microseconds)


def _local_timezone() -> timezone:
    offset = datetime.now(UTC).astimezone().utcoffset()
    return timezone(offset or timedelta(0))
