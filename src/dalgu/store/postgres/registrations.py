"""Context Source Registrations and their subscriptions in the PostgreSQL store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from dalgu.errors import AlreadyExists
from dalgu.store.base import ForwardingStatus, RegistrationStore


class PostgresRegistrations(RegistrationStore):
    """Mixed into `PostgresEntityStore`: shares its pool."""

    @property
    def pool(self) -> Any:  # provided by the entity store
        raise NotImplementedError

    async def _put(
        self, table: str, tenant: str, doc_id: str, document: dict[str, Any], create: bool
    ) -> None:
        doc = orjson.dumps(document)
        if not create:
            await self.pool.execute(
                f"UPDATE {table} SET doc = $3 WHERE tenant = $1 AND id = $2", tenant, doc_id, doc
            )
            return
        try:
            await self.pool.execute(
                f"INSERT INTO {table} (tenant, id, created, doc) VALUES ($1, $2, $3, $4)",
                tenant,
                doc_id,
                document.get("createdAt", ""),
                doc,
            )
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"{doc_id} already exists") from None

    async def _get(self, table: str, tenant: str, doc_id: str) -> dict[str, Any] | None:
        doc = await self.pool.fetchval(
            f"SELECT doc FROM {table} WHERE tenant = $1 AND id = $2", tenant, doc_id
        )
        return None if doc is None else dict(orjson.loads(doc))

    async def put_registration(
        self, tenant: str, registration_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        await self._put("csource_registrations", tenant, registration_id, document, create)

    async def get_registration(self, tenant: str, registration_id: str) -> dict[str, Any] | None:
        return await self._get("csource_registrations", tenant, registration_id)

    async def registrations(self, tenant: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT doc FROM csource_registrations WHERE tenant = $1 ORDER BY created, id",
            tenant,
        )
        return [dict(orjson.loads(r["doc"])) for r in rows]

    async def delete_registration(self, tenant: str, registration_id: str) -> bool:
        status: str = await self.pool.execute(
            """WITH gone AS (DELETE FROM registration_status WHERE tenant = $1 AND id = $2)
               DELETE FROM csource_registrations WHERE tenant = $1 AND id = $2""",
            tenant,
            registration_id,
        )
        return status != "DELETE 0"

    async def record_forwarding(
        self, tenant: str, outcomes: Sequence[tuple[str, bool, str]]
    ) -> None:
        await self.pool.executemany(
            """INSERT INTO registration_status
                   (tenant, id, times_sent, times_failed, last_success, last_failure)
               VALUES ($1, $2, 1, $3::bigint,
                       CASE WHEN $3::bigint = 0 THEN $4::text END,
                       CASE WHEN $3::bigint = 1 THEN $4::text END)
               ON CONFLICT (tenant, id) DO UPDATE SET
                   times_sent = registration_status.times_sent + 1,
                   times_failed = registration_status.times_failed + $3::bigint,
                   last_success = CASE WHEN $3::bigint = 0 THEN $4::text
                                       ELSE registration_status.last_success END,
                   last_failure = CASE WHEN $3::bigint = 1 THEN $4::text
                                       ELSE registration_status.last_failure END""",
            [(tenant, rid, 0 if ok else 1, at) for rid, ok, at in outcomes],
        )

    async def forwarding_status(
        self, tenant: str, registration_ids: Sequence[str]
    ) -> dict[str, ForwardingStatus]:
        if not registration_ids:
            return {}
        rows = await self.pool.fetch(
            "SELECT id, times_sent, times_failed, last_success, last_failure "
            "FROM registration_status WHERE tenant = $1 AND id = ANY($2::text[])",
            tenant,
            list(registration_ids),
        )
        return {r["id"]: ForwardingStatus(*tuple(r)[1:]) for r in rows}

    async def put_csource_subscription(
        self, tenant: str, subscription_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        await self._put("csource_subscriptions", tenant, subscription_id, document, create)

    async def get_csource_subscription(
        self, tenant: str, subscription_id: str
    ) -> dict[str, Any] | None:
        return await self._get("csource_subscriptions", tenant, subscription_id)

    async def list_csource_subscriptions(
        self, tenant: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        where = "WHERE tenant = $1" if tenant is not None else "WHERE $1::text IS NULL"
        async with self.pool.acquire() as conn:
            total = await conn.fetchval(
                f"SELECT count(*) FROM csource_subscriptions {where}", tenant
            )
            rows = await conn.fetch(
                f"SELECT doc FROM csource_subscriptions {where} ORDER BY tenant, created, id "
                "LIMIT $2 OFFSET $3",
                tenant,
                limit,
                offset,
            )
        return [dict(orjson.loads(r["doc"])) for r in rows], int(total)

    async def delete_csource_subscription(self, tenant: str, subscription_id: str) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            status: str = await conn.execute(
                "DELETE FROM csource_subscriptions WHERE tenant = $1 AND id = $2",
                tenant,
                subscription_id,
            )
            await conn.execute(
                "DELETE FROM deliveries WHERE tenant = $1 AND subscription_id = $2",
                tenant,
                subscription_id,
            )
        return status != "DELETE 0"
