"""The monthly partitions of the history table `instances`, and their creation.

A partition is created inside the transaction of the write that needs it (DDL is
transactional in PostgreSQL), under a transaction-scoped advisory lock: `CREATE TABLE IF NOT
EXISTS` is not safe against another transaction creating the same table at once (it fails
with DuplicateTableError), as two workers opening in a month without its partition did.
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
        for month in sorted(set(months)):
            name = partition_name(month)
            if name in self.known:
                continue
            if not locked:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", PARTITION_LOCK)
                locked = True
            end = add_months(month, 1)
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF instances "
                f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
            )
            made.append(name)
        return made

    def remember(self, names: Iterable[str]) -> None:
        self.known.update(names)


def month_of_partition(name: str) -> datetime | None:
    parts = name.removeprefix("instances_").split("_")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return datetime(int(parts[0]), int(parts[1]), 1, tzinfo=UTC)
