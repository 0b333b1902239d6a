"""`dalgu notifier`: match subscriptions and send notifications in a process of its own.

`dalgu serve` starts one beside the API (settings `notifier = "process"`), so matching and
sending use the machine's second core and never wait behind API requests in one event loop,
and keeps it running (`NotifierSupervisor`). On PostgreSQL several may run, on any machines:
deliveries are leased, never sent twice at once, and each subscription's go out in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `dalgu serve`'s supervising process imports this module without pydantic
    from dalgu.settings import Settings

log = logging.getLogger("dalgu.serve")

NOTIFIER_CACHE_MIB = 8  # it reads the outbox, subscriptions and a few entities, not the city
POLL = 0.002  # seconds between looks at an outbox whose store cannot wake the notifier
#: seconds before a notifier that exited is started again: the first, second… time in a row
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
#: a notifier that ran this long before it exited starts the delays over
STABLE_SECONDS = 60.0


async def run_notifier(settings: Settings, parent: int | None = None) -> None:
    """Notify until SIGTERM or SIGINT, or until `parent` (the server that started us) exits."""
    from dalgu.broker.contexts import hosted_context_resolver
    from dalgu.collector import settle
    from dalgu.feed.relay import start_feed
    from dalgu.heap import HeapTrim
    from dalgu.store.base import SubscriptionStore
    from dalgu.store.factory import open_store
    from dalgu.subscriptions import Notifier

    store = open_store(settings, cache_mib=NOTIFIER_CACHE_MIB)
    await store.open()
    resolver = hosted_context_resolver(settings, store)
    try:
        if not isinstance(store, SubscriptionStore):
            raise SystemExit(f"the {settings.store} store has no subscriptions")
        notifier = Notifier(
            store, resolver, store, poll=POLL, backlog=settings.notification_backlog
        )
        relay = await start_feed(settings, store, notifier)
        settle(settings.gc_young_threshold)  # a process of its own: never restored
        # a fan-out's payloads are freed once sent: give the C heap's pages back, as the
        # server's workers do (an outside test saw 1.2 GB kept after 250,000 notifications)
        heap = HeapTrim(settings.heap_trim_interval)
        heap.start()
        task = asyncio.create_task(notifier.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        while not task.done():
            await asyncio.wait({task}, timeout=1.0)
            if parent is not None and os.getppid() != parent:
                task.cancel()  # orphaned: the server is gone
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await heap.stop()
        if relay is not None:
            await relay.stop()
    finally:
        await resolver.close()
        await store.close()


def start_notifier_process() -> subprocess.Popen[bytes]:
    """A `dalgu notifier` child of this process, with the settings exported to DALGU_*."""
    return subprocess.Popen(
        [sys.executable, "-m", "dalgu.cli.notifier", str(os.getpid())],
        stdin=subprocess.DEVNULL,
    )


def stop_notifier_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class NotifierSupervisor(threading.Thread):
    """Keeps `dalgu serve`'s notifier process running while the server runs.

    A notifier that exits with a failure (an exception, the OOM killer, kill -9) is started
    again after `RESTART_DELAYS`, longer each time it fails soon after starting; every change
    it had not matched is still in the outbox, so the new one notifies it. A notifier that
    exits cleanly was stopped on purpose (Ctrl-C and SIGTERM reach the server's whole process
    group) and is left stopped.
    """

    def __init__(self) -> None:
        super().__init__(name="notifier-supervisor", daemon=True)
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # `process` is replaced or stopped, never both at once
        self.process = start_notifier_process()

    def run(self) -> None:
        failures = 0
        while True:
            process, started = self.process, time.monotonic()
            code = process.wait()
            if self._stopping.is_set() or code == 0:
                return
            failures = 1 if time.monotonic() - started >= STABLE_SECONDS else failures + 1
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS)) - 1]
            log.warning(
                "the notifier process %d %s; starting another in %g s",
                process.pid,
                _exit_reason(code),
                delay,
                extra={"pid": process.pid, "exit": code},
            )
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = start_notifier_process()

    def stop(self) -> None:
        """Stop the notifier for good (the server is stopping)."""
        with self._lock:
            self._stopping.set()
            stop_notifier_process(self.process)
        self.join(5)


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it exists (every platform but Windows)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def configure_logging(settings: Settings) -> None:
    from dalgu import logs

    logs.configure(settings.log_level, settings.log_format)


if __name__ == "__main__":
    # `dalgu serve`'s own notifier: `python -m dalgu.cli.notifier PARENT_PID`, settings from
    # DALGU_*. Without the command line's typer and rich: ~10 MiB less, for good.
    from dalgu.cli.supervision import exit_with_supervisor
    from dalgu.settings import Settings

    _parent = int(sys.argv[1]) if len(sys.argv) > 1 else None
    if _parent is not None:
        exit_with_supervisor(_parent)  # SIGTERM at once when the server is killed outright
    _settings = Settings.load(None)
    configure_logging(_settings)
    run_loop(run_notifier(_settings, _parent))
