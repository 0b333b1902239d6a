"""Which process of a server consumes its MQTT session: the one holding the session's lease.

A server's workers all run the MQTT southbound, but only one of them at a time subscribes, under
the server's one client id (`Settings.mqtt_session_id`): a device's messages then come, in the
order it sent them, to one consumer that stores them in that order. A shared subscription
(each worker a member) handed consecutive readings of a device to different workers, whose
writes committed in either order; and each member's persistent session outlived its worker.

The lease is an exclusive `flock` on a file named for the broker and the client id, in the
machine's temporary folder: the kernel releases it when its holder exits, `kill -9` included,
and another worker takes it within `STANDBY_POLL` seconds and resumes the session, messages
queued meanwhile included. Two servers on one machine with the same client id cannot both hold
it; on two machines the client ids differ by host name (unless set alike, which is a mistake).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from pathlib import Path

STANDBY_POLL = 1.0  # seconds between a standby worker's tries to take the lease
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def lease_path(host: str, port: int, client_id: str) -> Path:
    """The lock file of the session `client_id` on the broker `host:port`."""
    name = _UNSAFE.sub("_", f"{host}-{port}-{client_id}")
    return Path(tempfile.gettempdir()) / f"dalgu-mqtt-{name}.lock"


class SessionLease:
    """An exclusive, non-blocking lock on one MQTT session, held until `release` or exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lease if no other process holds it; True when this one holds it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # the holder before removed the file between our open and our lock: this lock is
            # on a file nobody else can find, so it guards nothing
            if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                raise BlockingIOError
        except OSError:  # held elsewhere (or the file went away): try again later
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lease up (and remove its file, so none is left behind per client id)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None
