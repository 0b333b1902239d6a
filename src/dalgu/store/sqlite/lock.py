"""Taking an SQLite file's write lock without stopping the event loop.

Several processes write one file (the API's workers, the notifier). SQLite's own busy handler
waits for the lock by sleeping in the calling thread, 1, 2, 5, 10 ms and longer: in an event
loop that stops every request and every notification in flight, for much longer than the
other writer holds the lock (~0.2 ms for a group commit). Here the lock is asked for without
waiting, and on `SQLITE_BUSY` the coroutine sleeps on the loop (0.1 ms, doubling up to 2 ms)
and asks again, so the process goes on serving meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator

from dalgu.errors import StoreUnavailable

BUSY_TIMEOUT_MS = 10_000  # the connection's busy_timeout, for statements outside these
FIRST_WAIT = 0.0001
LONGEST_WAIT = 0.002


def try_begin(db: sqlite3.Connection) -> bool:
    """`BEGIN IMMEDIATE` if the write lock is free now; False if another connection has it."""
    db.execute("PRAGMA busy_timeout=0")
    try:
        db.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise
        return False
    finally:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


async def begin(db: sqlite3.Connection) -> None:
    """`BEGIN IMMEDIATE`, waiting on the loop (not in SQLite) while another process writes."""
    wait = FIRST_WAIT
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while not try_begin(db):
        if time.monotonic() > deadline:
            raise StoreUnavailable(f"the database stayed locked for {BUSY_TIMEOUT_MS} ms")
        await asyncio.sleep(wait)
        wait = min(wait * 2, LONGEST_WAIT)


@contextlib.asynccontextmanager
async def transaction(db: sqlite3.Connection) -> AsyncIterator[None]:
    """A write transaction: `begin` (waiting on the loop), COMMIT when the block ends, and
    ROLLBACK when it raises (the error goes on)."""
    await begin(db)
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class BusyWait:
    """The waits of a synchronous caller that retries from loop callbacks (group commit)."""

    def __init__(self, timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
        self.timeout = timeout
        self._since: float | None = None
        self._wait = FIRST_WAIT

    def next_wait(self) -> float | None:
        """Seconds to wait before asking again; None once waiting has lasted `timeout`."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        if now - self._since > self.timeout:
            self.reset()
            return None
        wait, self._wait = self._wait, min(self._wait * 2, LONGEST_WAIT)
        return wait

    def reset(self) -> None:
        self._since = None
        self._wait = FIRST_WAIT
