"""ASGI entry point for servers: `granian --interface asgi --factory dalgu.api.asgi:create_app`."""

from __future__ import annotations

from starlette.applications import Starlette

from dalgu.api.app import build_app
from dalgu.settings import Settings


def create_app() -> Starlette:
    return build_app(Settings.load())
