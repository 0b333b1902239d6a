"""ASGI entry point for servers: `granian --interface asgi --factory dalgu.api.asgi:create_app`."""

from __future__ import annotations

from dalgu.api.app import TrailingSlash, build_app
from dalgu.settings import Settings


def create_app() -> TrailingSlash:
    return build_app(Settings.load())
