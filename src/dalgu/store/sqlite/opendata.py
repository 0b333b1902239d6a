"""Open-data datasets in the SQLite store (table of migration `opendata_datasets`)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import orjson

from dalgu.errors import AlreadyExists, ResourceNotFound
from dalgu.store.base import DatasetStore
from dalgu.store.opendata_store import ISSUED_ROW, MODIFIED_ROW, microseconds, moment
from dalgu.store.sqlite.lock import transaction

_NEXT_GENERATION = "UPDATE generations SET value = value + 1 WHERE name = 'datasets'"
# a catalogue's times: the last change never goes back, the first issue never forward (two
# processes' clocks may differ by a little)
_LATEST = (
    "INSERT INTO generations (name, value) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)"
)
_EARLIEST = (
    "INSERT INTO generations (name, value) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET value = min(value, excluded.value)"
)


class SqliteDatasets(DatasetStore):
    """Mixed into `SqliteEntityStore`: shares its connection."""

    @property
    def db(self) -> sqlite3.Connection:  # provided by the entity store
        raise NotImplementedError

    async def put_dataset(
        self,
        tenant: str,
        dataset_id: str,
        name: str,
        document: dict[str, Any],
        *,
        create: bool,
        at: datetime | None = None,
    ) -> None:
        doc = orjson.dumps(document)
        when = microseconds(at)
        db = self.db
        try:
            async with transaction(db):
                db.execute(_NEXT_GENERATION)
                if create:
                    db.execute(
                        "INSERT INTO opendata_datasets (tenant, id, name, doc) VALUES (?, ?, ?, ?)",
                        (tenant, dataset_id, name, doc),
                    )
                    db.execute(_EARLIEST, (ISSUED_ROW + tenant, when))
                else:
                    cursor = db.execute(
                        "UPDATE opendata_datasets SET name = ?, doc = ? "
                        "WHERE tenant = ? AND id = ?",
                        (name, doc, tenant, dataset_id),
                    )
                    if cursor.rowcount == 0:
                        raise ResourceNotFound(f"no dataset {dataset_id}")
                db.execute(_LATEST, (MODIFIED_ROW + tenant, when))
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

    async def delete_dataset(
        self, tenant: str, dataset_id: str, *, at: datetime | None = None
    ) -> bool:
        db = self.db
        async with transaction(db):
            db.execute(_NEXT_GENERATION)
            cursor = db.execute(
                "DELETE FROM opendata_datasets WHERE tenant = ? AND id = ?", (tenant, dataset_id)
            )
            if cursor.rowcount > 0:
                db.execute(_LATEST, (MODIFIED_ROW + tenant, microseconds(at)))
        return cursor.rowcount > 0

    async def catalogue_times(self, tenant: str) -> tuple[datetime | None, datetime | None]:
        rows = dict(
            self.db.execute(
                "SELECT name, value FROM generations WHERE name IN (?, ?)",
                (ISSUED_ROW + tenant, MODIFIED_ROW + tenant),
            ).fetchall()
        )
        return moment(rows.get(ISSUED_ROW + tenant)), moment(rows.get(MODIFIED_ROW + tenant))

    async def datasets_generation(self) -> int:
        row = self.db.execute("SELECT value FROM generations WHERE name = 'datasets'").fetchone()
        return int(row[0])
