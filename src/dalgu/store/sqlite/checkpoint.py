"""The embedded store's log: moved into the database file from a thread of its own, and kept
to a bounded size under steady writes and readers (`Checkpointer`)."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# a restarted log is cut back to this size (bytes), whatever its peak
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
# how long a truncating checkpoint waits for readers of old frames (writers wait meanwhile)
TRUNCATE_WAIT_MS = 2_000
# a log of this many frames (32 MiB of 4 KiB pages) is restarted once it is all copied back
RESTART_FRAMES = 8_192
# how long a restarting checkpoint waits for readers of old frames (writers wait meanwhile)
RESTART_WAIT_MS = 20


class Checkpointer(threading.Thread):
    """Moves the WAL into the database file every half second from its own connection, and
    keeps the WAL file's size bounded.

    A PASSIVE checkpoint never waits, so under steady writes with readers always somewhere in
    the log (the notifier polling the outbox, HTTP reads, other workers) the log is never
    restarted and the -wal file grows without end (tens of GB in a long FHIR load). Two
    bounds, the cheap one first:

    - once the log holds `RESTART_FRAMES` frames or more, a RESTART checkpoint waits at most
      `RESTART_WAIT_MS` for the readers of older snapshots and of the log, copies the rest
      back, and the next write starts the log over from its beginning (the file keeps its
      size and is written over: no truncation, no growth). Writers wait for that moment only;
      if a reader stays longer, the next round tries again.
    - when the file still passes `wal_limit` bytes (readers that never let go), a TRUNCATE
      checkpoint waits up to `TRUNCATE_WAIT_MS` for the readers of old frames, holds writers
      back meanwhile, copies the log and truncates the file to zero.
    """

    def __init__(self, path: Path, wal_limit: int) -> None:
        super().__init__(name="dalgu-sqlite-checkpoint", daemon=True)
        self._path = path
        self._wal = Path(f"{path}-wal")
        self._wal_limit = wal_limit
        self._stop_event = threading.Event()
        self.truncations = 0
        self.restarts = 0

    def run(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop_event.wait(0.5):
                with contextlib.suppress(sqlite3.Error):
                    if self._wal_size() > self._wal_limit:
                        self._truncate(db)
                    else:
                        self._copy_back(db)
        finally:
            db.close()

    def _copy_back(self, db: sqlite3.Connection) -> None:
        _, frames, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames < RESTART_FRAMES:
            return
        db.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        if not busy:
            self.restarts += 1

    def _wal_size(self) -> int:
        try:
            return self._wal.stat().st_size
        except OSError:
            return 0

    def _truncate(self, db: sqlite3.Connection) -> None:
        size = self._wal_size()
        db.execute(f"PRAGMA busy_timeout={TRUNCATE_WAIT_MS}")
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning(
                "sqlite WAL over its limit and not truncated: a reader held it",
                extra={"wal_bytes": size, "limit_bytes": self._wal_limit},
            )
        else:
            self.truncations += 1
            log.info(
                "sqlite WAL truncated", extra={"wal_bytes": size, "limit_bytes": self._wal_limit}
            )

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)
