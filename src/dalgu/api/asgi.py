"""ASGI entry point for servers: `granian --interface asgi --factory dalgu.api.asgi:create_app`."""

from __future__ import annotations

from dalgu import logs
from dalgu.api.app import TrailingSlash, build_app
from dalgu.settings import Settings


def create_app() -> TrailingSlash:
    settings = Settings.load()
    logs.configure(settings.log_level, settings.log_format)
    return build_app(settings)
