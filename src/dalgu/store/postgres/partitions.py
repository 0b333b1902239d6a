"""The monthly partitions of the history table `instances`, and their creation.

A partition is created inside the transaction of the write that needs it (DDL is
transactional in PostgreSQL), under a transaction-scoped advisory lock: `CREATE TABLE IF NOT
EXISTS` is not safe against another transaction creating the same table at once (it fails
with DuplicateTableError), as two workers opening in a month without its partition did.

Months get a partition of their own from `FIRST_MONTH` to `MONTHS_KEPT_AHEAD` months after the
present; instances at other times (a device whose clock reset to 1970 or ran decades ahead,
an archive of the 1900s) go to the default partition `instances_other`. Without that bound
each such month made a partition, and every history query planned them all (300 of them
took a one-entity query from 4 to 28–150 ms). A month that comes within the bound later takes
its instances out of the default partition as its partition is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from dalgu.query.duration import add_months

_PARTITIONS = """
SELECT c.relname FROM pg_inherits h
JOIN pg_class c ON c.oid = h.inhrelid
JOIN pg_class p ON p.oid = h.inhparent
WHERE p.relname = 'instances'
"""


#: the first month with a partition of its own
FIRST_MONTH = datetime(1970, 1, 1, tzinfo=UTC)
#: how many months after the present month have partitions of their own
MONTHS_KEPT_AHEAD = 12
#: the partition of every other time
OTHER = "instances_other"


def has_own_partition(month: datetime, now: datetime | None = None) -> bool:
    """Whether instances of `month` get a monthly partition (else `instances_other`)."""
    present = month_of(now or datetime.now(UTC))
    return FIRST_MONTH <= month <= add_months(present, MONTHS_KEPT_AHEAD)


def month_of(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return datetime(value.year, value.month, 1, tzinfo=UTC)


# a fixed key for pg_advisory_xact_lock around the creation of partitions: "dalgu-p" in ASCII
PARTITION_LOCK = 0x64616C67752D70


def partition_name(month: datetime) -> str:
    return f"instances_{month.year:04d}_{month.month:02d}"


class Partitions:
    """The monthly partitions of `instances` this process knows to exist."""

    def __init__(self) -> None:
        self.known: set[str] = set()

    async def load(self, conn: Any) -> None:
        self.known = {name for (name,) in await conn.fetch(_PARTITIONS)}

    async def ensure(self, conn: Any, months: Iterable[datetime]) -> list[str]:
        """Create the missing months (inside the caller's transaction, under the lock); the
        names made."""
        made = []
        locked = False
        now = datetime.now(UTC)
        for month in sorted(set(months)):
            name = partition_name(month)
            if name in self.known or not has_own_partition(month, now):
                continue
            if not locked:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", PARTITION_LOCK)
                locked = True
            exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)
            if not exists:
                await _make(conn, name, month, add_months(month, 1))
            made.append(name)
        return made

    def remember(self, names: Iterable[str]) -> None:
        self.known.update(names)


async def _make(conn: Any, name: str, month: datetime, end: datetime) -> None:
    """The partition of `month`, made with the instances of that month the default partition
    holds (attaching a range over rows of the default partition is an error)."""
    start, stop = month.isoformat(), end.isoformat()
    held = await conn.fetchval(f"SELECT to_regclass('{OTHER}') IS NOT NULL") and (
        await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {OTHER} WHERE at >= $1 AND at < $2)", month, end
        )
    )
    if not held:
        await conn.execute(
            f"CREATE TABLE {name} PARTITION OF instances FOR VALUES FROM ('{start}') TO ('{stop}')"
        )
        return
    await conn.execute(f"CREATE TABLE {name} (LIKE instances INCLUDING DEFAULTS)")
    await conn.execute(
        f"WITH moved AS (DELETE FROM {OTHER} WHERE at >= $1 AND at < $2 RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved",
        month,
        end,
    )
    await conn.execute(
        f"ALTER TABLE instances ATTACH PARTITION {name} FOR VALUES FROM ('{start}') TO ('{stop}')"
    )


def month_of_partition(name: str) -> datetime | None:
    parts = name.removeprefix("instances_").split("_")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return datetime(int(parts[0]), int(parts[1]), 1, tzinfo=UTC)
