"""Which process of a server consumes its MQTT session: the one holding the session's lease.

A server's workers all run the MQTT southbound, but only one of them at a time subscribes, under
the server's one client id (`Settings.mqtt_session_id`): a device's messages then come, in the
order it sent them, to one consumer that stores them in that order. A shared subscription
(each worker a member) handed consecutive readings of a device to different workers, whose
writes committed in either order; and each member's persistent session outlived its worker.

The lease is a name in Linux's abstract Unix socket namespace, bound by its holder: the kernel
frees it when its holder exits, `kill -9` included, and another worker takes it within
`STANDBY_POLL` seconds and resumes the session, messages queued meanwhile included. No file
stands for it, so no cleaner of temporary folders can take it away from a running holder (a
lock file in /tmp could be deleted under it, and a second worker then take a second lock). Two
servers on one machine (one network namespace: a container has its own) with the same client
id cannot both hold it; on two machines the client ids differ by host name (unless set alike,
which is a mistake).
"""

from __future__ import annotations

import hashlib
import socket

STANDBY_POLL = 1.0  # seconds between a standby worker's tries to take the lease


def lease_name(host: str, port: int, client_id: str) -> str:
    """The lease's name for the session `client_id` on the broker `host:port`."""
    digest = hashlib.sha256(f"{host}\0{port}\0{client_id}".encode()).hexdigest()[:40]
    return f"dalgu-mqtt-{digest}"


class SessionLease:
    """An exclusive, non-blocking hold on one MQTT session, kept until `release` or exit."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._socket: socket.socket | None = None

    @property
    def held(self) -> bool:
        return self._socket is not None

    def try_acquire(self) -> bool:
        """Take the lease if no other process holds it; True when this one holds it."""
        if self._socket is not None:
            return True
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.set_inheritable(False)
        try:
            sock.bind(f"\0{self.name}")  # the abstract namespace: no file, freed at exit
        except OSError:  # held elsewhere: try again later
            sock.close()
            return False
        self._socket = sock
        return True

    def release(self) -> None:
        """Give the lease up."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
