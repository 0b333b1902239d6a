"""The embedded SQLite backend of the entity store."""

from dalgu.store.sqlite.store import SqliteEntityStore

__all__ = ["SqliteEntityStore"]
