"""The `dalgu` command line.

Nothing is imported here: `python -m dalgu.cli.notifier` (the notifier process `dalgu serve`
starts) must not pay for typer and rich, which only the command line itself needs.
"""

from __future__ import annotations


def main() -> None:
    from dalgu.cli.app import main as run

    run()


__all__ = ["main"]
