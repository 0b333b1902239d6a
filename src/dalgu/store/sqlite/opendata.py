"""Open-data datasets in the SQLite store (table of migration `opendata_datasets`)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from dalgu.errors import AlreadyExists, ResourceNotFound
from dalgu.store.base import DatasetStore
from dalgu.store.sqlite.lock import transaction

_NEXT_GENERATION = "UPDATE generations SET value = value + 1 WHERE name = 'datasets'"


class SqliteDatasets(DatasetStore):
    """Mixed into `SqliteEntityStore`: shares its connection."""

    @property
    def db(self) -> sqlite3.Connection:  # provided by the entity store
        raise NotImplementedError

    async def put_dataset(
        self, tenant: str, dataset_id: str, name: str, document: dict[str, Any], *, create: bool
    ) -> None:
        doc = orjson.dumps(document)
        db = self.db
        try:
            async with transaction(db):
                db.execute(_NEXT_GENERATION)
                if create:
                    db.execute(
                        "INSERT INTO opendata_datasets (tenant, id, name, doc) VALUES (?, ?, ?, ?)",
                        (tenant, dataset_id, name, doc),
                    )
                else:
                    cursor = db.execute(
                        "UPDATE opendata_datasets SET name = ?, doc = ? "
                        "WHERE tenant = ? AND id = ?",
                        (name, doc, tenant, dataset_id),
                    )
                    if cursor.rowcount == 0:
                        raise ResourceNotFound(f"no dataset {dataset_id}")
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"a dataset named {name} already exists") from None

    async def get_dataset(self, tenant: str, id_or_name: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT doc FROM opendata_datasets WHERE tenant = ? AND (id = ? OR name = ?)",
            (tenant, id_or_name, id_or_name),
        ).fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    async def datasets(self, tenant: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT doc FROM opendata_datasets WHERE tenant = ? ORDER BY name", (tenant,)
        )
        return [dict(orjson.loads(doc)) for (doc,) in rows]

    async def delete_dataset(self, tenant: str, dataset_id: str) -> bool:
        db = self.db
        async with transaction(db):
            db.execute(_NEXT_GENERATION)
            cursor = db.execute(
                "DELETE FROM opendata_datasets WHERE tenant = ? AND id = ?", (tenant, dataset_id)
            )
        return cursor.rowcount > 0

    async def datasets_generation(self) -> int:
        row = self.db.execute("SELECT value FROM generations WHERE name = 'datasets'").fetchone()
        return int(row[0])
