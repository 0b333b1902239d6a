"""The counts of `dalgu.store.summary` in PostgreSQL: rows of changes, summed when read.

A counter row per key would be locked by every write that changes it until that write
commits: every batch of new vehicles would queue behind the last for the `Vehicle` row.
Writes only insert their changes instead (`summary_changes`, one row per key a batch changed);
a read sums a tenant's rows, and folds them into one row per key (`fold`) once they are many,
as the store also does every `FOLD_EVERY` writes of a tenant.
"""

from __future__ import annotations

from typing import Any

from dalgu.store.base import AttributeInfo, TypeInfo
from dalgu.store.summary import AttributeSummary, attribute_infos, type_infos

FOLD_EVERY = 256  # writes of one tenant between two folds of its changes
FOLD_AT = 1024  # rows of changes past which a read folds them


def insert(first: int) -> str:
    """The statement that records changes, its six arrays from parameter `first` on (a
    statement of its own, or a data-modifying `WITH` of another)."""
    arrays = ", ".join(
        f"${first + i}::{kind}[]" for i, kind in enumerate(("text",) * 5 + ("bigint",))
    )
    return (
        "INSERT INTO summary_changes (tenant, what, type, name, kind, n) "
        f"SELECT * FROM unnest({arrays})"
    )


_INSERT = insert(1)
_SUMS = """
SELECT what, type, name, kind, sum(n)::bigint, count(*)
FROM summary_changes WHERE tenant = $1 GROUP BY what, type, name, kind
"""
# one statement: the rows it deletes are the rows it sums, whatever writes meanwhile
_FOLD = """
WITH gone AS (DELETE FROM summary_changes WHERE tenant = $1 RETURNING what, type, name, kind, n)
INSERT INTO summary_changes (tenant, what, type, name, kind, n)
SELECT $1, what, type, name, kind, sum(n)::bigint FROM gone
GROUP BY what, type, name, kind HAVING sum(n) <> 0
"""


def columns(summary: AttributeSummary) -> list[list[Any]]:
    """The batch's changes as the six arrays `insert` takes (empty when there are none)."""
    entities, typed, named = summary.counts()
    rows = [(tenant, "e", t, "", "", n) for (tenant, t), n in entities.items()]
    rows.extend((tenant, "t", t, name, kind, n) for (tenant, t, name, kind), n in typed.items())
    rows.extend((tenant, "a", "", name, kind, n) for (tenant, name, kind), n in named.items())
    return [list(column) for column in zip(*rows, strict=True)]


async def write(conn: Any, summary: AttributeSummary) -> None:
    """The batch's changes, inside its transaction."""
    changes = columns(summary)
    if changes:
        await conn.execute(_INSERT, *changes)


async def fold(conn: Any, tenant: str) -> None:
    await conn.execute(_FOLD, tenant)


async def _sums(conn: Any, tenant: str) -> list[tuple[str, str, str, str, int]]:
    rows = await conn.fetch(_SUMS, tenant)
    if sum(r[5] for r in rows) > max(FOLD_AT, 2 * len(rows)):
        await fold(conn, tenant)
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows if r[4] > 0]


async def types(conn: Any, tenant: str) -> list[TypeInfo]:
    sums = await _sums(conn, tenant)
    return type_infos(
        ((t, n) for what, t, _, _, n in sums if what == "e"),
        ((t, name, kind) for what, t, name, kind, _ in sums if what == "t"),
    )


async def attributes(conn: Any, tenant: str) -> list[AttributeInfo]:
    sums = await _sums(conn, tenant)
    return attribute_infos(
        ((name, kind, n) for what, _, name, kind, n in sums if what == "a"),
        ((name, t) for what, t, name, _, _ in sums if what == "t"),
    )


async def entities_of(conn: Any, tenant: str, type_name: str) -> int:
    """How many entities of the tenant have the type (a count by type alone)."""
    found = await conn.fetchval(
        "SELECT coalesce(sum(n), 0)::bigint FROM summary_changes "
        "WHERE tenant = $1 AND what = 'e' AND type = $2",
        tenant,
        type_name,
    )
    return int(found)
