"""A copy of the PostgreSQL store made by `pg_dump --format=custom` while Dalgu writes.

pg_dump reads the whole database in one snapshot (repeatable read), so the copy is
consistent without stopping anything; `pg_restore --clean --if-exists -d <dsn> OUT` puts it
back. The password never reaches the command line (where `ps` shows it) nor the messages:
it goes to pg_dump in `PGPASSWORD`, and is masked in whatever pg_dump says.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from dalgu.errors import BackupFailed
from dalgu.store.backup import BackupCopy
from dalgu.store.postgres.status import KEY_PASSWORD, masked_dsn


def without_password(dsn: str) -> tuple[str, str | None]:
    """The DSN without its password, and the password (None when it has none)."""
    if "://" not in dsn:
        found = KEY_PASSWORD.search(dsn)
        if found is None:
            return dsn, None
        value = found.group(2)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        return (dsn[: found.start()] + dsn[found.end() :]).strip(), value
    parts = urlsplit(dsn)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = [value for key, value in query if key == "password"]
    if parts.password is None and not given:
        return dsn, None
    credentials, _, hosts = parts.netloc.rpartition("@")
    netloc = f"{credentials.split(':', 1)[0]}@{hosts}" if credentials else hosts
    kept = urlencode([(key, value) for key, value in query if key != "password"])
    bare = urlunsplit((parts.scheme, netloc, parts.path, kept, parts.fragment))
    return bare, unquote(parts.password) if parts.password is not None else given[-1]


def dump(dsn: str, out: Path) -> BackupCopy:
    """`pg_dump --format=custom` of the database `dsn` names into `out` (written whole or
    not at all; replaced if it exists)."""
    program = shutil.which("pg_dump")
    if program is None:
        raise BackupFailed(
            "pg_dump is not installed (or not on PATH): install PostgreSQL's client programs "
            "(Debian: postgresql-client), of the server's major version or newer"
        )
    bare, password = without_password(dsn)
    environment = dict(os.environ)
    if password is not None:
        environment["PGPASSWORD"] = password
    partial = out.with_name(f"{out.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        done = subprocess.run(
            [program, "--format=custom", f"--file={partial}", f"--dbname={bare}"],
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise BackupFailed(f"cannot run pg_dump: {exc}") from None
    except BaseException:  # interrupted: no half-written archive left behind
        partial.unlink(missing_ok=True)
        raise
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        said = _what_went_wrong(done.stderr) or f"exit status {done.returncode}"
        if password:
            said = said.replace(password, "***")
        raise BackupFailed(f"pg_dump of {masked_dsn(dsn)} failed: {said}")
    checked = _check(partial)
    os.replace(partial, out)
    return BackupCopy(out, out.stat().st_size, None, checked)


def _check(archive: Path) -> str:
    """Whether pg_restore can read the archive's table of contents (a file cut short by a
    full disk cannot be); said, not checked, when pg_restore is not installed."""
    program = shutil.which("pg_restore")
    if program is None:
        return "not checked (no pg_restore)"
    try:
        done = subprocess.run(
            [program, "--list", str(archive)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        archive.unlink(missing_ok=True)
        raise BackupFailed(f"cannot run pg_restore to check the archive: {exc}") from None
    if done.returncode != 0:
        archive.unlink(missing_ok=True)
        said = _what_went_wrong(done.stderr) or f"exit status {done.returncode}"
        raise BackupFailed(f"pg_restore cannot read the archive pg_dump wrote: {said}")
    return "pg_restore --list ok"


def _what_went_wrong(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [""])[0]
