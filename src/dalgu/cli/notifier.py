"""`dalgu notifier`: match subscriptions and send notifications in a process of its own.

`dalgu serve` starts one beside the API (settings `notifier = "process"`), so matching and
sending use the machine's second core and never wait behind API requests in one event loop.
On PostgreSQL several may run, on any machines: deliveries are leased, never sent twice at
once, and each subscription's go out in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `dalgu serve`'s supervising process imports this module without pydantic
    from dalgu.settings import Settings

NOTIFIER_CACHE_MIB = 8  # it reads the outbox, subscriptions and a few entities, not the city
POLL = 0.002  # seconds between looks at an outbox whose store cannot wake the notifier


async def run_notifier(settings: Settings, parent: int | None = None) -> None:
    """Notify until SIGTERM or SIGINT, or until `parent` (the server that started us) exits."""
    from dalgu.broker.contexts import hosted_context_resolver
    from dalgu.collector import settle
    from dalgu.store.base import SubscriptionStore
    from dalgu.store.factory import open_store
    from dalgu.subscriptions import Notifier

    store = open_store(settings, cache_mib=NOTIFIER_CACHE_MIB)
    await store.open()
    resolver = hosted_context_resolver(settings, store)
    try:
        if not isinstance(store, SubscriptionStore):
            raise SystemExit(f"the {settings.store} store has no subscriptions")
        notifier = Notifier(store, resolver, store, poll=POLL)
        settle(settings.gc_young_threshold)  # a process of its own: never restored
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


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it exists (every platform but Windows)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )


if __name__ == "__main__":
    # `dalgu serve`'s own notifier: `python -m dalgu.cli.notifier PARENT_PID`, settings from
    # DALGU_*. Without the command line's typer and rich: ~10 MiB less, for good.
    from dalgu.settings import Settings

    _settings = Settings.load(None)
    configure_logging(_settings)
    run_loop(run_notifier(_settings, int(sys.argv[1]) if len(sys.argv) > 1 else None))
