"""Open-data datasets in the PostgreSQL store (table of migration `opendata_datasets`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from dalgu.errors import AlreadyExists, ResourceNotFound
from dalgu.store.base import DatasetStore
from dalgu.store.opendata_store import ISSUED_ROW, MODIFIED_ROW, microseconds, moment

_NEXT_GENERATION = "UPDATE generations SET value = value + 1 WHERE name = 'datasets'"
# a catalogue's times: the last change never goes back, the first issue never forward (two
# processes' clocks may differ by a little)
_LATEST = (
    "INSERT INTO generations (name, value) VALUES ($1, $2) ON CONFLICT (name) "
    "DO UPDATE SET value = GREATEST(generations.value, EXCLUDED.value)"
)
_EARLIEST = (
    "INSERT INTO generations (name, value) VALUES ($1, $2) ON CONFLICT (name) "
    "DO UPDATE SET value = LEAST(generations.value, EXCLUDED.value)"
)


class PostgresDatasets(DatasetStore):
    """Mixed into `PostgresEntityStore`: shares its pool."""

    @property
    def pool(self) -> Any:  # provided by the entity store
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
        # one transaction: the dataset, the catalogue's generation and its times together
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(_NEXT_GENERATION)
            try:
                if create:
                    await conn.execute(
                        "INSERT INTO opendata_datasets (tenant, id, name, doc) "
                        "VALUES ($1, $2, $3, $4)",
                        tenant,
                        dataset_id,
                        name,
                        doc,
                    )
                    await conn.execute(_EARLIEST, ISSUED_ROW + tenant, when)
                else:
                    status = await conn.execute(
                        "UPDATE opendata_datasets SET name = $3, doc = $4 "
                        "WHERE tenant = $1 AND id = $2",
                        tenant,
                        dataset_id,
                        name,
                        doc,
                    )
                    if status == "UPDATE 0":
                        raise ResourceNotFound(f"no dataset {dataset_id}")
            except asyncpg.UniqueViolationError:
                raise AlreadyExists(f"a dataset named {name} already exists") from None
            await conn.execute(_LATEST, MODIFIED_ROW + tenant, when)

    async def get_dataset(self, tenant: str, id_or_name: str) -> dict[str, Any] | None:
        doc = await self.pool.fetchval(
            "SELECT doc FROM opendata_datasets WHERE tenant = $1 AND (id = $2 OR name = $2)",
            tenant,
            id_or_name,
        )
        return None if doc is None else dict(orjson.loads(doc))

    async def datasets(self, tenant: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT doc FROM opendata_datasets WHERE tenant = $1 ORDER BY name", tenant
        )
        return [dict(orjson.loads(r["doc"])) for r in rows]

    async def delete_dataset(
        self, tenant: str, dataset_id: str, *, at: datetime | None = None
    ) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(_NEXT_GENERATION)
            status = await conn.execute(
                "DELETE FROM opendata_datasets WHERE tenant = $1 AND id = $2", tenant, dataset_id
            )
            if status == "DELETE 0":
                return False
            await conn.execute(_LATEST, MODIFIED_ROW + tenant, microseconds(at))
        return True

    async def catalogue_times(self, tenant: str) -> tuple[datetime | None, datetime | None]:
        rows = await self.pool.fetch(
            "SELECT name, value FROM generations WHERE name = ANY($1::text[])",
            [ISSUED_ROW + tenant, MODIFIED_ROW + tenant],
        )
        kept = {r["name"]: r["value"] for r in rows}
        return moment(kept.get(ISSUED_ROW + tenant)), moment(kept.get(MODIFIED_ROW + tenant))

    async def datasets_generation(self) -> int:
        return int(
            await self.pool.fetchval("SELECT value FROM generations WHERE name = 'datasets'")
        )
