"""Choose the store backend the settings name."""

from __future__ import annotations

from dalgu.settings import Settings
from dalgu.store.base import EntityStore, SubscriptionStore


def open_store(settings: Settings, *, cache_mib: int | None = None) -> EntityStore:
    """`cache_mib`: the embedded store's page cache in this process (default: the
    settings' `sqlite_cache_mib`)."""
    if settings.store == "postgres":
        import importlib

        postgres = importlib.import_module("dalgu.store.postgres")
        store: EntityStore = postgres.PostgresEntityStore(
            settings.postgres_dsn,
            pool_size=settings.postgres_pool_size,
            write_transactions=settings.postgres_write_transactions,
        )
    else:
        from dalgu.store.sqlite import SqliteEntityStore

        store = SqliteEntityStore(
            settings.sqlite_path,
            synchronous=settings.sqlite_synchronous,
            cache_mib=settings.sqlite_cache_mib if cache_mib is None else cache_mib,
            wal_limit_mib=settings.sqlite_wal_limit_mib,
        )
    if settings.change_feed != "off" and isinstance(store, SubscriptionStore):
        store.record_all_changes = True  # the change feed publishes every change
    return store
