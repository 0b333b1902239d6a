"""Run the API server: migrate, start the notifier process, then granian's workers.

`dalgu serve` hands over to `python -m dalgu.cli.serve` (exec, same process), so the process
that only supervises the workers for the server's whole life holds granian and the settings,
not the command line's typer and rich (~15 MiB less). The settings travel in DALGU_*.
"""

from __future__ import annotations

import os
import subprocess
import sys

from dalgu.settings import Settings


def export(settings: Settings) -> None:
    """Hand the settings to child processes (they read DALGU_* once at start)."""
    for name, value in settings.model_dump(exclude_none=True).items():
        os.environ[f"DALGU_{name.upper()}"] = str(value)


def serve(settings: Settings) -> int:
    """Serve until stopped; the exit status."""
    from granian import Granian
    from granian.constants import Interfaces

    from dalgu.cli.notifier import start_notifier_process, stop_notifier_process

    export(settings)
    # once, before the workers and the notifier open the store; in a child process, so this
    # one never loads the store
    migration = subprocess.run([sys.executable, "-m", "dalgu", "migrate", "--quiet"])
    if migration.returncode != 0:
        return migration.returncode  # the child printed why
    notifier = start_notifier_process() if settings.notifier == "process" else None
    try:
        Granian(
            "dalgu.api.asgi:create_app",
            address=settings.host,
            port=settings.port,
            interface=Interfaces.ASGI,
            workers=settings.workers,
            factory=True,
            log_access=False,
        ).serve()
    finally:
        if notifier is not None:
            stop_notifier_process(notifier)
    return 0


def hand_over(settings: Settings) -> None:
    """Become `python -m dalgu.cli.serve` with these settings (never returns)."""
    export(settings)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "dalgu.cli.serve"])


if __name__ == "__main__":
    sys.exit(serve(Settings.load(None)))
