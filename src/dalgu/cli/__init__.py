"""The `dalgu` command line."""

from dalgu.cli.app import app, main

__all__ = ["app", "main"]
