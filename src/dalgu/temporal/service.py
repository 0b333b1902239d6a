"""The temporal service: history queries and edits (clauses 5.6.11–5.6.16, 5.7.3–5.7.4)."""

from __future__ import annotations

from typing import Any

from dalgu.errors import ResourceNotFound
from dalgu.store.base import TemporalEntity, TemporalQuery, TemporalStore


class TemporalService:
    def __init__(self, store: TemporalStore) -> None:
        self.store = store

    async def query(
        self, tenant: str, query: TemporalQuery
    ) -> tuple[list[TemporalEntity], int | None]:
        return await self.store.temporal_query(tenant, query)

    async def retrieve(self, tenant: str, entity_id: str, query: TemporalQuery) -> TemporalEntity:
        found, _ = await self.store.temporal_query(tenant, query)
        if not found:
            # the entity may exist with no instance in the interval: tell the two apart
            everything = TemporalQuery(ids=(entity_id,), limit=1)
            exists, _ = await self.store.temporal_query(tenant, everything)
            if not exists:
                raise ResourceNotFound(f"entity {entity_id} has no temporal history")
            return TemporalEntity(entity_id, exists[0].types)
        return found[0]

    async def create(
        self, tenant: str, entity_id: str, types: list[str], attrs: dict[str, list[Any]]
    ) -> bool:
        return await self.store.add_instances(tenant, entity_id, types, attrs)

    async def append(self, tenant: str, entity_id: str, attrs: dict[str, list[Any]]) -> None:
        found, _ = await self.store.temporal_query(tenant, TemporalQuery(ids=(entity_id,), limit=1))
        if not found:
            raise ResourceNotFound(f"entity {entity_id} has no temporal history")
        await self.store.add_instances(tenant, entity_id, found[0].types, attrs)

    async def delete(
        self, tenant: str, entity_id: str, attr: str | None = None, **options: Any
    ) -> None:
        if not await self.store.delete_history(tenant, entity_id, attr, **options):
            what = f"attribute {attr} of " if attr else ""
            raise ResourceNotFound(f"no temporal history of {what}{entity_id}")

    async def replace_instance(
        self, tenant: str, entity_id: str, attr: str, instance_id: str, instance: dict[str, Any]
    ) -> None:
        if not await self.store.replace_instance(tenant, entity_id, attr, instance_id, instance):
            raise ResourceNotFound(f"no instance {instance_id} of {attr} in {entity_id}")
