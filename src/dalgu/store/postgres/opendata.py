"""Open-data datasets in the PostgreSQL store (table of migration `opendata_datasets`)."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from dalgu.errors import AlreadyExists, ResourceNotFound
from dalgu.store.base import DatasetStore

# one statement with the write it counts: committed (or rolled back) with it
_NEXT_GENERATION = "WITH _g AS (UPDATE generations SET value = value + 1 WHERE name = 'datasets')"


class PostgresDatasets(DatasetStore):
    """Mixed into `PostgresEntityStore`: shares its pool."""

    @property
    def pool(self) -> Any:  # provided by the entity store
        raise NotImplementedError

    async def put_dataset(
        self, tenant: str, dataset_id: str, name: str, document: dict[str, Any], *, create: bool
    ) -> None:
        doc = orjson.dumps(document)
        try:
            if create:
                await self.pool.execute(
                    f"{_NEXT_GENERATION} "
                    "INSERT INTO opendata_datasets (tenant, id, name, doc) VALUES ($1, $2, $3, $4)",
                    tenant,
                    dataset_id,
                    name,
                    doc,
                )
                return
            status = await self.pool.execute(
                f"{_NEXT_GENERATION} "
                "UPDATE opendata_datasets SET name = $3, doc = $4 WHERE tenant = $1 AND id = $2",
                tenant,
                dataset_id,
                name,
                doc,
            )
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"a dataset named {name} already exists") from None
        if status == "UPDATE 0":
            raise ResourceNotFound(f"no dataset {dataset_id}")

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

    async def delete_dataset(self, tenant: str, dataset_id: str) -> bool:
        status = await self.pool.execute(
            f"{_NEXT_GENERATION} DELETE FROM opendata_datasets WHERE tenant = $1 AND id = $2",
            tenant,
            dataset_id,
        )
        return bool(status != "DELETE 0")

    async def datasets_generation(self) -> int:
        return int(
            await self.pool.fetchval("SELECT value FROM generations WHERE name = 'datasets'")
        )
