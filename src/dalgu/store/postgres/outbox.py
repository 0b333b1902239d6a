"""The change outbox on PostgreSQL: appended in the change's transaction, read in an order that
keeps each entity's changes in sequence, with no lock that makes commits wait in line.

Several server processes commit changes at once, and a transaction's rows become visible only
when it commits, in whatever order the commits land. A reader that moved its cursor past a
number could then miss a change that commits later with a smaller one. This module avoids that
without ordering the commits:

- An append draws one *ticket* (a sequence value) for all its changes, after its transaction
  took a shared transaction-level advisory lock (`OUTBOX_LOCK`; shared holders never wait for
  each other) and while it holds the rows of every entity it changed. A later change of the
  same entity waits for those rows, so it draws a later ticket: one entity's changes are in
  ticket order.
- A reader reads up to a *horizon*: the highest ticket drawn, read first, becomes safe once
  every transaction that held the lock just after it was read has ended (committed or rolled
  back). Whatever drew a ticket up to it held the lock from before its draw to its end, so it
  is among them or already over: nothing can still appear below the horizon.
- The wake-up (NOTIFY) is sent after the commit, by a task of its own that folds the wakes of
  many commits into one: NOTIFY inside the transaction would order the commits again
  (PostgreSQL serializes notifying commits).

Before this, the append took an exclusive lock to number the changes in commit order; each
commit and its fsync then waited for the one before, ~500 committed changes/s per database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import orjson

log = logging.getLogger(__name__)

OUTBOX_LOCK = 0x6F7574626F78  # "outbox": held (shared) from a ticket's draw to its end
TYPE_SEPARATOR = "\x1f"  # between the types of one change in `_APPEND`'s per-row text
CHANNEL = "dalgu_outbox"  # NOTIFY after each commit that wrote to the outbox

# $7: append every change whether or not the tenant has a subscription (else only the changes
# a subscription of the tenant could match by entity type, `store/change_filter.py`: $8 holds
# each change's types before and after it, joined by TYPE_SEPARATOR)
_APPEND = """
WITH held AS MATERIALIZED (
    SELECT pg_advisory_xact_lock_shared($6)
    WHERE $7 OR EXISTS (SELECT 1 FROM subscriptions WHERE tenant = $1)),
drawn AS MATERIALIZED (SELECT nextval('change_tickets') AS ticket FROM held)
INSERT INTO changes (ticket, tenant, entity_id, before, after, at)
SELECT drawn.ticket, $1, u.entity_id, u.before, u.after, $5
FROM drawn, unnest($2::text[], $3::bytea[], $4::bytea[], $8::text[]) WITH ORDINALITY
    AS u(entity_id, before, after, types, i)
WHERE $7 OR EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant = $1
    AND (s.watched_types IS NULL OR s.watched_types && string_to_array(u.types, E'\\x1f')))
ORDER BY u.i
"""
DRAWN = "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM change_tickets"
# an advisory lock on a bigint key shows its high half as classid, its low half as objid
_HOLDERS = """
SELECT coalesce(array_agg(virtualtransaction), '{}') FROM pg_locks
WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database
        WHERE datname = current_database())
    AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1 AND granted
"""
_STILL_HELD = """
SELECT EXISTS (SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND classid = $1::bigint::oid AND objid = $2::bigint::oid
        AND objsubid = 1 AND virtualtransaction = ANY($3::text[]))
"""
_LOCK_KEY = (OUTBOX_LOCK >> 32, OUTBOX_LOCK & 0xFFFFFFFF)
_READ = """
SELECT ticket, tenant, entity_id, before, after, at FROM changes
WHERE ticket > $1 AND ticket <= $2 ORDER BY ticket, seq LIMIT $3
"""
_READ_ONE = """
SELECT ticket, tenant, entity_id, before, after, at FROM changes
WHERE ticket = $1 ORDER BY seq
"""
FORGET = "DELETE FROM changes WHERE ticket <= (SELECT min(seq) FROM cursors)"


async def append(
    conn: Any, tenant: str, rows: Sequence[tuple[str, Any, Any]], at: str, *, always: bool
) -> bool:
    """Write `rows` (entity id, before, after) to the outbox under one ticket, in `conn`'s
    transaction, after the entities' own changes (their rows are held); unless `always`, only
    the changes a subscription of the tenant could match by entity type (checked in the same
    statement). True if it wrote any."""
    status = await conn.execute(
        _APPEND,
        tenant,
        [entity_id for entity_id, _, _ in rows],
        [None if before is None else orjson.dumps(before) for _, before, _ in rows],
        [None if after is None else orjson.dumps(after) for _, _, after in rows],
        at,
        OUTBOX_LOCK,
        always,
        [_types(before, after) for _, before, after in rows],
    )
    return not str(status).endswith(" 0")


def _types(before: Any, after: Any) -> str:
    """The entity's types before and after a change, packed for `string_to_array`."""
    types = {t for entity in (before, after) if entity is not None for t in entity.get("type", ())}
    return TYPE_SEPARATOR.join(sorted(types))


class Horizon:
    """The highest ticket below which the outbox will not change, as one reader sees it."""

    def __init__(self) -> None:
        self.safe = 0
        self._candidate: tuple[int, list[str]] | None = None  # (ticket, holders then)

    async def advance(self, conn: Any) -> int:
        """Move the horizon as far as ended transactions allow; returns it."""
        if self._candidate is not None:
            ticket, holders = self._candidate
            if await conn.fetchval(_STILL_HELD, *_LOCK_KEY, holders):
                return self.safe
            self.safe = max(self.safe, ticket)
            self._candidate = None
        drawn = int(await conn.fetchval(DRAWN))
        if drawn > self.safe:
            holders = await conn.fetchval(_HOLDERS, *_LOCK_KEY)  # after the draw was read
            if holders:
                self._candidate = (drawn, list(holders))
            else:
                self.safe = drawn
        return self.safe


async def read(conn: Any, start: int, horizon: int, limit: int) -> list[Any]:
    """Whole appends after ticket `start` up to `horizon`, about `limit` changes (all of one
    append when it alone holds more), in ticket order, each append's in its own order."""
    rows = list(await conn.fetch(_READ, start, horizon, limit))
    if len(rows) < limit:
        return rows
    last = rows[-1][0]
    whole = [r for r in rows if r[0] != last]  # the last append may go on past the limit
    return whole or list(await conn.fetch(_READ_ONE, last))


class Waker:
    """Sends the outbox's NOTIFY after commits, one for as many as came while one was sent."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._due = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._due = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while self._due:
            self._due = False
            try:
                await self.pool.execute("SELECT pg_notify($1, '')", CHANNEL)
            except Exception:  # the notifiers' own timers find the changes; never fail a write
                log.warning("could not wake the notifiers", exc_info=True)
                return

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            await asyncio.wait([self._task], timeout=5)
