"""Context Source Registrations in the PostgreSQL store."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from dalgu.errors import AlreadyExists
from dalgu.store.base import RegistrationStore


class PostgresRegistrations(RegistrationStore):
    """Mixed into `PostgresEntityStore`: shares its pool."""

    @property
    def pool(self) -> Any:  # provided by the entity store
        raise NotImplementedError

    async def put_registration(
        self, tenant: str, registration_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        doc = orjson.dumps(document)
        if not create:
            await self.pool.execute(
                "UPDATE csource_registrations SET doc = $3 WHERE tenant = $1 AND id = $2",
                tenant,
                registration_id,
                doc,
            )
            return
        try:
            await self.pool.execute(
                "INSERT INTO csource_registrations (tenant, id, created, doc) "
                "VALUES ($1, $2, $3, $4)",
                tenant,
                registration_id,
                document.get("createdAt", ""),
                doc,
            )
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"registration {registration_id} already exists") from None

    async def get_registration(self, tenant: str, registration_id: str) -> dict[str, Any] | None:
        doc = await self.pool.fetchval(
            "SELECT doc FROM csource_registrations WHERE tenant = $1 AND id = $2",
            tenant,
            registration_id,
        )
        return None if doc is None else dict(orjson.loads(doc))

    async def registrations(self, tenant: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT doc FROM csource_registrations WHERE tenant = $1 ORDER BY created, id",
            tenant,
        )
        return [dict(orjson.loads(r["doc"])) for r in rows]

    async def delete_registration(self, tenant: str, registration_id: str) -> bool:
        status: str = await self.pool.execute(
            "DELETE FROM csource_registrations WHERE tenant = $1 AND id = $2",
            tenant,
            registration_id,
        )
        return status != "DELETE 0"
