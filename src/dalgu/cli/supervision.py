"""The processes `dalgu serve` starts (API workers, the notifier) exit when it dies.

A supervisor stopped by a signal it can handle stops its children itself; one killed outright
(`kill -9`, the OOM killer, a crash) cannot. Its orphans would go on serving on the API port,
without a notifier or anyone to restart them, and the next `dalgu serve` could not listen. So
each child asks Linux for a signal when its parent dies (`prctl(PR_SET_PDEATHSIG)`) and, in
case that is not available or came too late, watches its parent's pid.

The API workers take SIGKILL: a granian worker sent SIGTERM while its app is still starting
hangs in granian's signal handling, holding the GIL, for good (seen in
`tests/test_supervision.py`); what they acknowledged is committed, and what a device sent
that they did not acknowledge comes again. The notifier takes SIGTERM and stops as on Ctrl-C;
one still running `GRACE_SECONDS` later is ended by SIGALRM, which needs no Python code to run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

#: the environment variable that names the supervisor's pid to the workers it spawns
SUPERVISOR_PID = "DALGU_SERVE_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_SECONDS = 0.5  # how often the fallback looks at the parent's pid
GRACE_SECONDS = 5  # an orphan still stopping this long after SIGTERM is ended by SIGALRM


def exit_with_supervisor(supervisor: int, sig: int = signal.SIGTERM) -> None:
    """Get `sig` when `supervisor`, this process's parent, exits (or now, if it has)."""
    ask_for_signal_at_parent_death(sig)
    threading.Thread(
        target=_watch, args=(supervisor, sig), name="supervisor-watch", daemon=True
    ).start()


def ask_for_signal_at_parent_death(sig: int) -> None:
    """Ask Linux for `sig` when this process's parent dies (PR_SET_PDEATHSIG, kept across
    exec); nothing elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)  # the process's own symbols: libc's prctl
        libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def _watch(supervisor: int, sig: int) -> None:
    # also catches a supervisor that died before the kernel was asked
    while os.getppid() == supervisor:
        time.sleep(WATCH_SECONDS)
    signal.alarm(GRACE_SECONDS)  # nobody handles SIGALRM: it ends the process, GIL held or not
    os.kill(os.getpid(), sig)
