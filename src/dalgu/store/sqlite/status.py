"""The embedded store's `StoreStatus`, read through a read-only connection.

The file is opened with `mode=ro`: nothing is created when it is missing, nothing migrated, and
the running server's log is left alone (a read-only connection never checkpoints). Each read is
in one snapshot, so the counts agree with each other. Of a database no process has open, SQLite
leaves an empty -wal and a -shm beside it (a reader of a WAL database needs them; one that
cannot write cannot remove them): the database file itself stays byte for byte as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from dalgu.errors import StoreUnavailable
from dalgu.store.sqlite.schema import MIGRATIONS
from dalgu.store.status import (
    BACKLOG_COUNTED,
    Backlog,
    ConsumerBacklog,
    StoreStatus,
    flags_of,
)

#: how long a read waits for a lock (a truncating checkpoint holds readers back briefly)
BUSY_TIMEOUT_MS = 2_000

_BACKLOG = f"""
SELECT g.tenant, g.n, c.at FROM (
    SELECT tenant, count(*) AS n, min(seq) AS first FROM (
        SELECT tenant, seq FROM changes WHERE seq > ? ORDER BY seq LIMIT {BACKLOG_COUNTED + 1}
    ) GROUP BY tenant
) AS g JOIN changes c ON c.seq = g.first
"""


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that can only read the database at `path`; `StoreUnavailable` when there is
    none, or it cannot be read."""
    if not path.is_file():
        others = sorted(p.name for p in path.parent.glob("*.db") if p.is_file())
        hint = (
            f"; this folder has {', '.join(others)}: name one with DALGU_SQLITE_PATH "
            f"(`make demo` keeps its city in var/demo.db)"
            if others
            else " (DALGU_SQLITE_PATH names another; `dalgu migrate` makes a new one)"
        )
        raise StoreUnavailable(f"no SQLite database at {path}{hint}")
    try:
        db = sqlite3.connect(
            f"file:{quote(str(path.absolute()))}?mode=ro", uri=True, isolation_level=None
        )
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot read the SQLite database {path}: {exc}") from None
    return db


def read_status(path: Path, consumers: Sequence[str]) -> StoreStatus:
    """The store at `path`, with the backlog of each outbox consumer in `consumers`."""
    db = open_read_only(path)
    try:
        db.execute("BEGIN")
        try:
            return _read(db, path, consumers)
        finally:
            db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot read the SQLite database {path}: {exc}") from None
    finally:
        db.close()


def _read(db: sqlite3.Connection, path: Path, consumers: Sequence[str]) -> StoreStatus:
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    version = 0
    if "schema_version" in tables:
        version = db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    unknown = [
        t for t in ("type_entities", "subscriptions", "changes", "cursors") if t not in tables
    ]
    entities: dict[str, dict[str, int]] = {}
    if "type_entities" in tables:
        for tenant, type_name, n in db.execute(
            "SELECT tenant, type, n FROM type_entities WHERE n > 0"
        ):
            entities.setdefault(tenant, {})[type_name] = n
    subscriptions = []
    if "subscriptions" in tables:
        subscriptions = [
            flags_of(tenant, doc)
            for tenant, doc in db.execute("SELECT tenant, doc FROM subscriptions")
        ]
    backlogs, deliveries = [], 0
    if "changes" in tables and "cursors" in tables:
        backlogs = [_backlog(db, consumer) for consumer in consumers]
    if "deliveries" in tables:
        deliveries = db.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM deliveries LIMIT {BACKLOG_COUNTED})"
        ).fetchone()[0]
    return StoreStatus(
        kind="sqlite",
        location=str(path),
        sizes={"database": _size(path), "wal": _size(Path(f"{path}-wal"))},
        schema_version=version,
        expected_version=len(MIGRATIONS),
        entities=entities,
        subscriptions=subscriptions,
        backlogs=backlogs,
        deliveries=deliveries,
        unknown=unknown,
    )


def _backlog(db: sqlite3.Connection, consumer: str) -> ConsumerBacklog:
    row = db.execute("SELECT seq FROM cursors WHERE consumer = ?", (consumer,)).fetchone()
    after = 0 if row is None else row[0]
    tenants = {t: Backlog(n, at) for t, n, at in db.execute(_BACKLOG, (after,))}
    counted = sum(b.changes for b in tenants.values())
    return ConsumerBacklog(consumer, tenants, capped=counted > BACKLOG_COUNTED)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
