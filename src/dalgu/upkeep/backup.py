"""`dalgu backup`: a consistent copy of the store while Dalgu runs, by its backend's means
(SQLite's online backup API, `pg_dump`); `dalgu restore`: a copy put back (SQLite)."""

from __future__ import annotations

from pathlib import Path

from dalgu.errors import BackupFailed
from dalgu.settings import Settings
from dalgu.store.backup import BackupCopy, Progress


def back_up(
    settings: Settings, out: Path, *, force: bool = False, progress: Progress | None = None
) -> BackupCopy:
    """Copy the store `settings` name to `out`; `BackupFailed` when `out` exists (unless
    `force`) or the copy cannot be made, `StoreUnavailable` when the store cannot be read."""
    if out.is_dir():
        raise BackupFailed(f"{out} is a directory: name the file to write")
    if out.exists() and not force:
        raise BackupFailed(f"{out} exists: choose another name, or --force to replace it")
    if not out.parent.is_dir():
        raise BackupFailed(f"{out.parent} is not a directory")
    if settings.store == "postgres":
        from dalgu.store.postgres.backup import dump

        return dump(settings.postgres_dsn, out)
    from dalgu.store.sqlite import backup as sqlite

    live = settings.sqlite_path
    if out.exists() and live.exists() and out.samefile(live):
        raise BackupFailed(f"{out} is the database itself: name another file")
    return sqlite.back_up(live, out, progress=progress)


def restore(settings: Settings, backup: Path) -> BackupCopy:
    """Put the SQLite copy `backup` in place of the store `settings` name, with Dalgu stopped
    (`StoreUnavailable` while a process has it open); PostgreSQL's archives are restored with
    `pg_restore` (README)."""
    if settings.store == "postgres":
        raise BackupFailed(
            'a PostgreSQL archive is restored with pg_restore (README.md, "Status, backup and '
            'restore")'
        )
    from dalgu.store.sqlite.restore import restore as put_back

    return put_back(backup, settings.sqlite_path)
