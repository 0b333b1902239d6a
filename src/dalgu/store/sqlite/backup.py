"""A copy of the embedded store made with SQLite's online backup API while Dalgu writes.

The copy is read in steps (a progress bar can follow it) inside one read transaction of the
source: in WAL mode that transaction is a snapshot, so the copy is the database as it was
when the backup began, whatever commits meanwhile (without it SQLite restarts the copy after
every commit of another connection, and under steady writes never finishes). The price: the
server's checkpoints cannot move the log past that snapshot until the copy ends, so the -wal
file grows by what is written during the backup.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from pathlib import Path

from dalgu.errors import BackupFailed
from dalgu.store.backup import BackupCopy, Progress
from dalgu.store.sqlite.status import open_read_only

#: pages copied per step (4 MiB at SQLite's default page size)
STEP_PAGES = 1024


def back_up(
    path: Path, out: Path, *, step_pages: int = STEP_PAGES, progress: Progress | None = None
) -> BackupCopy:
    """Copy the database at `path` to `out` (written whole or not at all), check the copy
    with `PRAGMA quick_check` and count its entities. `out` is replaced if it exists; its
    stale -wal and -shm, if any, are removed."""
    partial = out.with_name(f"{out.name}.partial")
    _remove(partial)
    source = open_read_only(path)
    try:
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot
        copy = sqlite3.connect(partial, isolation_level=None)
        try:

            def step(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            source.backup(copy, pages=step_pages, progress=step)
            source.execute("COMMIT")
            # one self-contained file: a restore copies it over the database, nothing beside
            copy.execute("PRAGMA journal_mode=DELETE")
            problems = [row[0] for row in copy.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise BackupFailed(f"the copy failed its check: {'; '.join(problems[:3])}")
            entities = entity_count(copy)
        finally:
            copy.close()
    except sqlite3.Error as exc:
        _remove(partial)
        raise BackupFailed(f"cannot copy the SQLite database {path}: {exc}") from None
    except BaseException:
        _remove(partial)
        raise
    finally:
        source.close()
    shutil.copymode(path, partial)  # the copy holds the same data: the same permissions
    sync_file(partial)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    os.replace(partial, out)
    sync_file(out.parent)
    return BackupCopy(out, out.stat().st_size, entities, "quick_check ok")


def entity_count(db: sqlite3.Connection) -> int | None:
    """The entities a database holds (None: it has no entity table)."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'entities'").fetchone() is None:
        return None
    count: int = db.execute("SELECT count(*) FROM entities").fetchone()[0]
    return count


def sync_file(path: Path) -> None:
    """fsync `path` (a file, or a directory after a rename in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(partial: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{partial}{suffix}").unlink()
