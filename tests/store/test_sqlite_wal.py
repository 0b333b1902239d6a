"""The embedded store's write-ahead log stays bounded on disk under steady writes, even while
other connections (the notifier, other workers) keep reading, and nothing written is lost."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

import dalgu.store.sqlite.checkpoint as sqlite_checkpoint
from dalgu.broker.mutations import create
from dalgu.store.base import Change, Entity
from dalgu.store.sqlite import SqliteEntityStore

T0 = "2026-12-03T04:00:00.000Z"
MIB = 1024 * 1024


def report(n: int) -> Entity:
    return {
        "id": f"urn:ngsi-ld:Report:{n}",
        "type": ["https://example.org/Report"],
        "createdAt": T0,
        "modifiedAt": T0,
        "https://example.org/text": [{"type": "Property", "value": f"{n:08d}" * 500}],
    }


class Readers:
    """Two connections that take turns holding short read transactions, so that at every
    moment some reader is inside the log (as the notifier's outbox polls are), each for `hold`
    seconds."""

    def __init__(self, path: Path, hold: float = 0.03) -> None:
        self._path = path
        self._hold = hold
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, args=(i,)) for i in range(2)]

    def _read(self, index: int) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        time.sleep(self._hold / 2 * index)
        while not self._stop.is_set():
            db.execute("BEGIN")
            db.execute("SELECT count(*) FROM entities").fetchone()
            time.sleep(self._hold)
            db.execute("COMMIT")
        db.close()

    def __enter__(self) -> Readers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def wal_size(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def write_steadily(store: SqliteEntityStore, path: Path, peaks: list[int]) -> int:
    """Four seconds of batches of 50 reports, 20 ms apart; how many were written."""
    n = 0
    started = time.monotonic()
    while time.monotonic() - started < 4.0:
        entities = [report(n + i) for i in range(50)]
        outcomes = await store.mutate("", [(e["id"], create(e)) for e in entities])
        assert all(isinstance(o, Change) for o in outcomes)
        n += len(entities)
        peaks.append(wal_size(path))
        await asyncio.sleep(0.02)
    return n


async def test_wal_file_stays_bounded_under_writes_and_readers(tmp_path: Path) -> None:
    path = tmp_path / "dalgu.db"
    store = SqliteEntityStore(path, wal_limit_mib=1)
    await store.open()
    peaks: list[int] = []  # the log's size after each write
    try:
        with Readers(path):
            n = await write_steadily(store, path, peaks)
            checkpointer = store._checkpointer
            assert checkpointer is not None
            truncated_while_writing = checkpointer.truncations
            await asyncio.sleep(1.5)  # the checkpointer's next rounds, readers still going
            settled = wal_size(path)
        written = path.stat().st_size
        assert written > 4 * MIB  # enough to have grown the log far past its limit
        # the log was cut back again and again while writers and readers ran (the limit is
        # checked every half second, so how far it grows in between depends on how fast the
        # machine writes: no fixed size bound holds on a loaded machine). Unbounded, the log
        # keeps every page frame ever written, more than the whole database file.
        assert truncated_while_writing >= 2
        assert max(peaks) < written, (max(peaks), written)
        assert settled <= 1 * MIB
        count = store.db.execute("SELECT count(*) FROM entities").fetchone()[0]
        assert count == n
    finally:
        await store.close()


async def test_log_starts_over_under_steady_writes_and_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Long before the size limit, a log that has been copied back is started over from its
    beginning (a short wait for the readers in it), so the file is written over instead of
    growing until a truncation has to hold every writer back for a long wait."""
    monkeypatch.setattr(sqlite_checkpoint, "RESTART_FRAMES", 256)  # 1 MiB of 4 KiB pages
    path = tmp_path / "dalgu.db"
    store = SqliteEntityStore(path, wal_limit_mib=256)
    await store.open()
    peaks: list[int] = []  # the log's size after each write
    try:
        # short reads, one after another and overlapping: a reader is always in the log,
        # as the notifier's outbox polls and HTTP reads are; none holds it past the wait
        with Readers(path, hold=0.005):
            n = await write_steadily(store, path, peaks)
            checkpointer = store._checkpointer
            assert checkpointer is not None
            restarts, truncations = checkpointer.restarts, checkpointer.truncations
        written = path.stat().st_size
        assert written > 4 * MIB
        assert restarts >= 2
        assert truncations == 0  # the size limit was never needed
        # without restarts the log holds every frame written: as large as the database
        assert max(peaks) < written / 2, (max(peaks), written)
        count = store.db.execute("SELECT count(*) FROM entities").fetchone()[0]
        assert count == n
    finally:
        await store.close()
