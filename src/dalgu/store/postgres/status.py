"""The PostgreSQL store's `StoreStatus`, read in one read-only transaction.

One connection of its own (not the store's pool, whose `open()` migrates), with
`default_transaction_read_only` on, so that nothing this reads can write, and a statement
timeout, so that a database under a lock does not hang the command.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from dalgu.errors import StoreUnavailable
from dalgu.store.postgres.schema import MIGRATIONS
from dalgu.store.status import (
    BACKLOG_COUNTED,
    Backlog,
    ConsumerBacklog,
    StoreStatus,
    flags_of,
)

#: seconds to connect, and for each statement
TIMEOUT = 5.0
_SESSION = {
    "default_transaction_read_only": "on",
    "statement_timeout": str(int(TIMEOUT * 1000)),
    "application_name": "dalgu status",
}
KEY_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)

_BACKLOG = f"""
SELECT g.tenant, g.n, c.at FROM (
    SELECT tenant, count(*) AS n, min(ARRAY[ticket, seq]) AS first FROM (
        SELECT tenant, ticket, seq FROM changes WHERE ticket > $1
        ORDER BY ticket, seq LIMIT {BACKLOG_COUNTED + 1}
    ) AS unread GROUP BY tenant
) AS g JOIN changes c ON c.ticket = g.first[1] AND c.seq = g.first[2]
"""


def masked_dsn(dsn: str) -> str:
    """The DSN with its password, if any, replaced by `***` (URI or key=value form)."""
    if "://" not in dsn:
        return KEY_PASSWORD.sub(r"\1***", dsn)
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, _, hosts = netloc.rpartition("@")
        if ":" in credentials:
            credentials = credentials.split(":", 1)[0] + ":***"
        netloc = f"{credentials}@{hosts}"
    query = re.sub(r"(^|&)(password=)[^&]*", r"\1\2***", parts.query, flags=re.IGNORECASE)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


async def connect_read_only(dsn: str) -> Any:
    """A connection whose transactions can only read; `StoreUnavailable` when there is none."""
    try:
        return await asyncpg.connect(dsn, timeout=TIMEOUT, server_settings=_SESSION)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from None


async def read_status(dsn: str, consumers: Sequence[str]) -> StoreStatus:
    """The store `dsn` names, with the backlog of each outbox consumer in `consumers`."""
    conn = await connect_read_only(dsn)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await _read(conn, dsn, consumers)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreUnavailable(f"cannot read the PostgreSQL database: {exc}") from None
    finally:
        await conn.close()


async def _read(conn: Any, dsn: str, consumers: Sequence[str]) -> StoreStatus:
    names = ("schema_version", "summary_changes", "subscriptions", "changes", "cursors")
    present = {
        row[0]
        for row in await conn.fetch(
            "SELECT name FROM unnest($1::text[]) AS name "
            "WHERE to_regclass('public.' || name) IS NOT NULL",
            [*names, "deliveries"],
        )
    }
    version = 0
    if "schema_version" in present:
        version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
    entities: dict[str, dict[str, int]] = {}
    if "summary_changes" in present:
        for row in await conn.fetch(
            "SELECT tenant, type, sum(n)::bigint FROM summary_changes WHERE what = 'e' "
            "GROUP BY tenant, type HAVING sum(n) > 0"
        ):
            entities.setdefault(row[0], {})[row[1]] = int(row[2])
    subscriptions = []
    if "subscriptions" in present:
        subscriptions = [
            flags_of(row[0], row[1])
            for row in await conn.fetch("SELECT tenant, doc FROM subscriptions")
        ]
    has_tickets = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = 'changes' AND column_name = 'ticket')"
    )
    unknown = [name for name in names[1:] if name not in present]
    backlogs = []
    if {"changes", "cursors"} <= present and has_tickets:
        backlogs = [await _backlog(conn, consumer) for consumer in consumers]
    elif "changes" in present:
        unknown.append("changes.ticket")
    deliveries = 0
    if "deliveries" in present:
        deliveries = await conn.fetchval(
            f"SELECT count(*) FROM (SELECT 1 FROM deliveries LIMIT {BACKLOG_COUNTED}) AS d"
        )
    size = await conn.fetchval("SELECT pg_database_size(current_database())")
    return StoreStatus(
        kind="postgres",
        location=masked_dsn(dsn),
        sizes={"database": int(size)},
        schema_version=int(version),
        expected_version=len(MIGRATIONS),
        entities=entities,
        subscriptions=subscriptions,
        backlogs=backlogs,
        deliveries=int(deliveries),
        unknown=unknown,
    )


async def _backlog(conn: Any, consumer: str) -> ConsumerBacklog:
    after = await conn.fetchval("SELECT seq FROM cursors WHERE consumer = $1", consumer)
    rows = await conn.fetch(_BACKLOG, after or 0)
    tenants = {row[0]: Backlog(int(row[1]), row[2]) for row in rows}
    counted = sum(b.changes for b in tenants.values())
    return ConsumerBacklog(consumer, tenants, capped=counted > BACKLOG_COUNTED)
