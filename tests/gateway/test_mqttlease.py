"""The MQTT session's lease: one holder at a time, released when its holder exits, and no
file a cleaner of temporary folders could delete under it."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from dalgu.gateway.mqttlease import SessionLease, lease_name


def _name() -> str:
    return f"dalgu-test-lease-{uuid.uuid4().hex}"


def test_a_second_holder_is_refused_until_the_first_releases() -> None:
    name = _name()
    first, second = SessionLease(name), SessionLease(name)
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire() and second.held
    assert not first.try_acquire()
    second.release()


def test_the_lease_leaves_no_file_behind() -> None:
    """A lock file in /tmp could be deleted under its holder (systemd-tmpfiles, say), and a
    second worker then take a second lock on a new file: two consumers of one session."""
    before = set(Path(tempfile.gettempdir()).iterdir())
    lease = SessionLease(lease_name("127.0.0.1", 1883, f"dalgu-{uuid.uuid4().hex[:8]}"))
    assert lease.try_acquire()
    try:
        made = {p for p in set(Path(tempfile.gettempdir()).iterdir()) - before}
        assert not [p for p in made if p.name.startswith("dalgu-mqtt")]
    finally:
        lease.release()


def test_the_lease_of_a_killed_holder_is_taken_over() -> None:
    name = _name()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from dalgu.gateway.mqttlease import SessionLease\n"
            f"lease = SessionLease({name!r})\n"
            "assert lease.try_acquire()\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        lease = SessionLease(name)
        assert not lease.try_acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 2
        while not lease.try_acquire():
            assert time.monotonic() < deadline, "the lease of a dead process was never freed"
            time.sleep(0.05)
        lease.release()
    finally:
        holder.kill()
        holder.wait()


def test_sessions_on_other_brokers_or_ids_have_leases_of_their_own() -> None:
    client_id = f"dalgu-test-{uuid.uuid4().hex[:8]}"
    names = {
        lease_name("127.0.0.1", 1883, client_id),
        lease_name("127.0.0.1", 1884, client_id),
        lease_name("127.0.0.1", 1883, client_id + "x"),
    }
    assert len(names) == 3
    assert all(len(n) < 100 for n in names)  # an abstract socket's name is at most 107 bytes
