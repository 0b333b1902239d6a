"""Context Source Registrations and their subscriptions in the SQLite store."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from dalgu.errors import AlreadyExists
from dalgu.store.base import ForwardingStatus, RegistrationStore
from dalgu.store.sqlite.lock import transaction


class SqliteRegistrations(RegistrationStore):
    """Mixed into `SqliteEntityStore`: shares its connection."""

    @property
    def db(self) -> sqlite3.Connection:  # provided by the entity store
        raise NotImplementedError

    async def _put(
        self, table: str, tenant: str, doc_id: str, document: dict[str, Any], create: bool
    ) -> None:
        doc = orjson.dumps(document)
        db = self.db
        try:
            async with transaction(db):
                if create:
                    db.execute(
                        f"INSERT INTO {table} (tenant, id, created, doc) VALUES (?, ?, ?, ?)",
                        (tenant, doc_id, document.get("createdAt", ""), doc),
                    )
                else:
                    db.execute(
                        f"UPDATE {table} SET doc = ? WHERE tenant = ? AND id = ?",
                        (doc, tenant, doc_id),
                    )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"{doc_id} already exists") from None

    def _get(self, table: str, tenant: str, doc_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            f"SELECT doc FROM {table} WHERE tenant = ? AND id = ?", (tenant, doc_id)
        ).fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    async def _delete(self, table: str, tenant: str, doc_id: str, kept: str) -> bool:
        """Delete a document and, in the same transaction, what `kept` holds of it (the
        table whose `(tenant, <key>)` rows belong to it, e.g. `deliveries.subscription_id`)."""
        kept_table, kept_key = kept.split(".")
        db = self.db
        async with transaction(db):
            cursor = db.execute(
                f"DELETE FROM {table} WHERE tenant = ? AND id = ?", (tenant, doc_id)
            )
            db.execute(
                f"DELETE FROM {kept_table} WHERE tenant = ? AND {kept_key} = ?", (tenant, doc_id)
            )
        return cursor.rowcount > 0

    async def put_registration(
        self, tenant: str, registration_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        await self._put("csource_registrations", tenant, registration_id, document, create)

    async def get_registration(self, tenant: str, registration_id: str) -> dict[str, Any] | None:
        return self._get("csource_registrations", tenant, registration_id)

    async def registrations(self, tenant: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT doc FROM csource_registrations WHERE tenant = ? ORDER BY created, id",
            (tenant,),
        )
        return [dict(orjson.loads(doc)) for (doc,) in rows]

    async def delete_registration(self, tenant: str, registration_id: str) -> bool:
        return await self._delete(
            "csource_registrations", tenant, registration_id, "registration_status.id"
        )

    async def record_forwarding(
        self, tenant: str, outcomes: Sequence[tuple[str, bool, str]]
    ) -> None:
        db = self.db
        async with transaction(db):
            db.executemany(
                """INSERT INTO registration_status
                       (tenant, id, times_sent, times_failed, last_success, last_failure)
                   VALUES (?1, ?2, 1, ?3,
                           CASE WHEN ?3 = 0 THEN ?4 END, CASE WHEN ?3 = 1 THEN ?4 END)
                   ON CONFLICT (tenant, id) DO UPDATE SET
                       times_sent = times_sent + 1,
                       times_failed = times_failed + ?3,
                       last_success = CASE WHEN ?3 = 0 THEN ?4 ELSE last_success END,
                       last_failure = CASE WHEN ?3 = 1 THEN ?4 ELSE last_failure END""",
                [(tenant, rid, 0 if ok else 1, at) for rid, ok, at in outcomes],
            )

    async def forwarding_status(
        self, tenant: str, registration_ids: Sequence[str]
    ) -> dict[str, ForwardingStatus]:
        if not registration_ids:
            return {}
        marks = ",".join("?" * len(registration_ids))
        rows = self.db.execute(
            "SELECT id, times_sent, times_failed, last_success, last_failure "
            f"FROM registration_status WHERE tenant = ? AND id IN ({marks})",
            (tenant, *registration_ids),
        )
        return {row[0]: ForwardingStatus(*row[1:]) for row in rows}

    async def put_csource_subscription(
        self, tenant: str, subscription_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        await self._put("csource_subscriptions", tenant, subscription_id, document, create)

    async def get_csource_subscription(
        self, tenant: str, subscription_id: str
    ) -> dict[str, Any] | None:
        return self._get("csource_subscriptions", tenant, subscription_id)

    async def list_csource_subscriptions(
        self, tenant: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
        (total,) = self.db.execute(
            f"SELECT count(*) FROM csource_subscriptions {where}", params
        ).fetchone()
        rows = self.db.execute(
            f"SELECT doc FROM csource_subscriptions {where} ORDER BY tenant, created, id "
            "LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [dict(orjson.loads(doc)) for (doc,) in rows], int(total)

    async def delete_csource_subscription(self, tenant: str, subscription_id: str) -> bool:
        return await self._delete(
            "csource_subscriptions", tenant, subscription_id, "deliveries.subscription_id"
        )
