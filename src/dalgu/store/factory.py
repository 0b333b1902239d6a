"""Choose the store backend the settings name."""

from __future__ import annotations

from dalgu.settings import Settings
from dalgu.store.base import EntityStore


def open_store(settings: Settings) -> EntityStore:
    if settings.store == "postgres":
        from dalgu.store.postgres import PostgresEntityStore

        return PostgresEntityStore(settings.postgres_dsn, pool_size=settings.postgres_pool_size)
    from dalgu.store.sqlite import SqliteEntityStore

    return SqliteEntityStore(settings.sqlite_path, synchronous=settings.sqlite_synchronous)
