"""A backup put back in place of the embedded store (`dalgu restore`), never beside a live log.

A restore is done after an incident, often an unclean stop that left a `-wal` beside the
database. Copied over the database by hand with that log left beside it, the backup is read
through the crashed database's log: it serves the crashed data, and the next writes corrupt
the file (an outside test found both). Here the copy is checked first, the restore refuses
while any process has the database open, and the old log and shared memory are removed before
the copy takes the database's place, so no log of another file is ever read with it.

Whether a process has the database open: every connection to a database in WAL mode holds a
shared lock on the "dead man switch" byte of its `-shm` file (SQLite's unix VFS, byte 128, as
long as the connection is open); a write lock on it is refused while one does.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from pathlib import Path

from dalgu.errors import BackupFailed, SchemaAhead, StoreUnavailable
from dalgu.store.backup import BackupCopy
from dalgu.store.sqlite.backup import entity_count, sync_file
from dalgu.store.sqlite.schema import MIGRATIONS
from dalgu.store.sqlite.status import open_read_only

#: the byte of the -shm file every open connection holds a shared lock on (os_unix.c:
#: UNIX_SHM_BASE 120 + SQLITE_SHM_NLOCK 8)
SHM_DEAD_MAN_SWITCH = 128


def restore(backup: Path, path: Path) -> BackupCopy:
    """Put `backup` in place of the database at `path`: `BackupFailed` if the backup does not
    check out, `StoreUnavailable` if a process has the database open."""
    entities, version = _checked(backup)
    if version > len(MIGRATIONS):
        raise SchemaAhead(f"SQLite backup {backup}", version, len(MIGRATIONS))
    if path.exists() and backup.samefile(path):
        raise BackupFailed(f"{backup} is the database itself")
    if in_use(path):
        raise StoreUnavailable(
            f"{path} is open in a running process (a Dalgu server, its notifier): stop it first"
        )
    partial = path.with_name(f"{path.name}.restoring")
    shutil.copyfile(backup, partial)
    sync_file(partial)
    for suffix in ("-wal", "-shm", "-journal"):  # a log of the database that was: never read
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(partial, path)
    sync_file(path.parent)
    return BackupCopy(path, path.stat().st_size, entities, "quick_check ok")


def in_use(path: Path) -> bool:
    """Whether a process has the database at `path` open (in WAL mode, as Dalgu opens it)."""
    shm = Path(f"{path}-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DEAD_MAN_SWITCH)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, SHM_DEAD_MAN_SWITCH)
        return False
    finally:
        os.close(fd)


def _checked(backup: Path) -> tuple[int | None, int]:
    """The backup's entities and schema version, once `PRAGMA quick_check` passed."""
    if not backup.is_file():
        raise BackupFailed(f"no backup at {backup}")
    for suffix in ("-wal", "-shm"):
        if Path(f"{backup}{suffix}").exists():
            raise BackupFailed(
                f"{backup} has a {suffix} file beside it: it is a live database, not a copy "
                "`dalgu backup` wrote; back it up with `dalgu backup` first"
            )
    try:
        db = open_read_only(backup)
    except StoreUnavailable as exc:
        raise BackupFailed(exc.detail) from None
    try:
        problems = [row[0] for row in db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise BackupFailed(f"{backup} failed its check: {'; '.join(problems[:3])}")
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        if "schema_version" not in tables or "entities" not in tables:
            raise BackupFailed(f"{backup} is not a Dalgu database")
        version = db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        return entity_count(db), int(version[0])
    except sqlite3.DatabaseError as exc:
        raise BackupFailed(f"{backup} is not a readable SQLite database: {exc}") from None
    finally:
        db.close()
