"""Context Source Registrations in the SQLite store."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from dalgu.errors import AlreadyExists
from dalgu.store.base import RegistrationStore
from dalgu.store.sqlite.lock import begin


class SqliteRegistrations(RegistrationStore):
    """Mixed into `SqliteEntityStore`: shares its connection."""

    @property
    def db(self) -> sqlite3.Connection:  # provided by the entity store
        raise NotImplementedError

    async def put_registration(
        self, tenant: str, registration_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        doc = orjson.dumps(document)
        db = self.db
        await begin(db)
        try:
            if create:
                db.execute(
                    "INSERT INTO csource_registrations (tenant, id, created, doc) "
                    "VALUES (?, ?, ?, ?)",
                    (tenant, registration_id, document.get("createdAt", ""), doc),
                )
            else:
                db.execute(
                    "UPDATE csource_registrations SET doc = ? WHERE tenant = ? AND id = ?",
                    (doc, tenant, registration_id),
                )
            db.execute("COMMIT")
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK")
            raise AlreadyExists(f"registration {registration_id} already exists") from None
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def get_registration(self, tenant: str, registration_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT doc FROM csource_registrations WHERE tenant = ? AND id = ?",
            (tenant, registration_id),
        ).fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    async def registrations(self, tenant: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT doc FROM csource_registrations WHERE tenant = ? ORDER BY created, id",
            (tenant,),
        )
        return [dict(orjson.loads(doc)) for (doc,) in rows]

    async def delete_registration(self, tenant: str, registration_id: str) -> bool:
        db = self.db
        await begin(db)
        try:
            cursor = db.execute(
                "DELETE FROM csource_registrations WHERE tenant = ? AND id = ?",
                (tenant, registration_id),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return cursor.rowcount > 0
