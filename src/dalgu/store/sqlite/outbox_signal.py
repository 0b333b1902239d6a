"""A datagram that tells the notifier of an SQLite file that its outbox has something new.

PostgreSQL wakes its notifiers with LISTEN/NOTIFY; an SQLite file has no such channel, so the
notifier process had to look at the outbox every few milliseconds, which cost a few percent
of the core it shares with the API while idle and up to a look's interval of latency. Here
the process that commits a change to the outbox (or queues a delivery) sends an empty
datagram to a Unix socket in Linux's abstract namespace named after the database file, and
the notifier, bound to it, wakes at once. Nothing depends on the datagram arriving: a
notifier still looks at the outbox on its timer, and a sender whose datagram cannot be sent
(no notifier bound, its buffer full) drops it silently. Elsewhere than Linux nothing is sent
and the notifier polls as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

AVAILABLE = sys.platform.startswith("linux")


def address(database: Path) -> bytes:
    """The abstract socket name of a database file (the same from every process)."""
    digest = hashlib.sha256(os.path.realpath(database).encode()).hexdigest()[:32]
    return b"\0dalgu-outbox-" + digest.encode()


class OutboxSignal:
    """The sending side: one unbound datagram socket per store."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self._address = address(database)
        self._socket: socket.socket | None = None
        if AVAILABLE:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)

    def ring(self) -> None:
        if self._socket is None:
            return
        # no notifier listens, or it has wake-ups enough pending: it looks on its timer anyway
        with contextlib.suppress(OSError):
            self._socket.sendto(b"", self._address)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class OutboxListener:
    """The notifier's side: bound to the database's name, calls `wake` on each datagram."""

    def __init__(self, database: Path) -> None:
        self._address = address(database)
        self._socket: socket.socket | None = None

    def start(self, wake: Callable[[], None]) -> bool:
        """Listen; False when this platform cannot or another notifier already listens."""
        if not AVAILABLE:
            return False
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(self._address)
        except OSError:
            sock.close()
            return False
        sock.setblocking(False)
        self._socket = sock

        def drain() -> None:
            try:
                while True:
                    sock.recv(16)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                return
            wake()

        asyncio.get_running_loop().add_reader(sock.fileno(), drain)
        return True

    def stop(self) -> None:
        sock, self._socket = self._socket, None
        if sock is None:
            return
        with contextlib.suppress(RuntimeError):  # no loop runs any more: nothing reads it
            asyncio.get_running_loop().remove_reader(sock.fileno())
        sock.close()
