"""The MQTT session's lease: one holder at a time, released when its holder exits."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from dalgu.gateway.mqttlease import SessionLease, lease_path


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path: Path) -> None:
    path = tmp_path / "session.lock"
    first, second = SessionLease(path), SessionLease(path)
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire() and second.held
    assert not first.try_acquire()
    second.release()
    assert not path.exists()  # no file left behind per client id


def test_the_lease_of_a_killed_holder_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "session.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from dalgu.gateway.mqttlease import SessionLease\n"
            f"assert SessionLease(Path({str(path)!r})).try_acquire()\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        lease = SessionLease(path)
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
    paths = {
        lease_path("127.0.0.1", 1883, client_id),
        lease_path("127.0.0.1", 1884, client_id),
        lease_path("127.0.0.1", 1883, client_id + "x"),
    }
    assert len(paths) == 3
    assert all("/" not in p.name for p in paths)
