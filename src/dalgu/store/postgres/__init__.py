"""The production backend of the entity store: PostgreSQL with PostGIS."""

from dalgu.store.postgres.store import PostgresEntityStore

__all__ = ["PostgresEntityStore"]
