"""The temporal service: history queries, their pagination, and edits (clauses 5.6.11–5.6.16,
5.7.3–5.7.4, 6.3.10).

Temporal pagination: the store returns at most `instance_limit` instances per attribute (the
oldest, or with lastN the newest). When an attribute reaches that limit, the answer is cut to
the time range every attribute covers completely, and the caller gets that range (for the
`Content-Range: date-time <start>-<end>/<size>` header of a 206) to ask for the next part.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from dalgu.broker.linked_query import with_links_resolved
from dalgu.broker.model import Entity, now_iso
from dalgu.errors import AlreadyExists, ResourceNotFound
from dalgu.store.base import EntityStore, TemporalEntity, TemporalQuery, TemporalStore
from dalgu.store.history import format_time, parse_time


@dataclass(slots=True)
class TemporalPage:
    """A page of temporal entities; `range` is (start, end, size) when the instances were cut."""

    entities: list[TemporalEntity]
    count: int | None = None
    range: tuple[str, str, str] | None = None
    #: more entities match past this page (a `next` pointer, clause 5.5.9)
    more: bool = False


class HistoryStore(EntityStore, TemporalStore):
    """A store that keeps both the entities and their history."""


class TemporalService:
    def __init__(self, store: Any) -> None:
        self.store: HistoryStore = store

    async def query(self, tenant: str, query: TemporalQuery) -> TemporalPage:
        resolved = await with_links_resolved(self.store, tenant, query)
        if resolved is None:
            return TemporalPage([], 0 if query.count else None)
        query = resolved
        # one entity past the page tells whether more follow, without a second count
        probe = replace(query, limit=query.limit + 1) if query.limit else query
        found, count = await self.store.temporal_query(tenant, probe)
        more = bool(query.limit) and len(found) > query.limit
        if more:
            found = found[: query.limit]
        return _paginate(TemporalPage(found, count, more=more), query)

    async def retrieve(self, tenant: str, entity_id: str, query: TemporalQuery) -> TemporalPage:
        found, _ = await self.store.temporal_query(tenant, query)
        if found:
            return _paginate(TemporalPage(found), query)
        # the entity may exist with no instance in the interval: tell the two apart
        exists, _ = await self.store.temporal_query(tenant, _any_instance(entity_id, query.attrs))
        if not exists:
            what = "the requested attributes in " if query.attrs else ""
            raise ResourceNotFound(f"no temporal history of {what}{entity_id}")
        return TemporalPage([TemporalEntity(entity_id, exists[0].types)])

    async def upsert(
        self,
        tenant: str,
        entity_id: str,
        types: list[str],
        attrs: dict[str, list[Any]],
        scope: list[str] | None = None,
    ) -> bool:
        """Create or extend an entity's history (5.6.11); instances observed at the same time
        as stored ones replace them. An entity the broker does not know yet is created with
        the latest instance of each attribute, so the core API and the history describe one
        entity. True when the history is new."""
        created = await self.store.add_instances(
            tenant, entity_id, types, attrs, replace_same_time=True
        )
        if await self.store.get(tenant, entity_id) is None:
            current = _current(entity_id, types, attrs)
            if scope:
                current["scope"] = scope

            def create(stored: Entity | None) -> Entity:
                if stored is not None:
                    raise AlreadyExists(entity_id)
                return current

            await self.store.mutate(tenant, [(entity_id, create)], history=False)
        return created

    async def append(self, tenant: str, entity_id: str, attrs: dict[str, list[Any]]) -> None:
        found, _ = await self.store.temporal_query(tenant, _any_instance(entity_id))
        if not found:
            raise ResourceNotFound(f"entity {entity_id} has no temporal history")
        await self.store.add_instances(tenant, entity_id, found[0].types, attrs)

    async def delete(
        self, tenant: str, entity_id: str, attr: str | None = None, **options: Any
    ) -> None:
        if not await self.store.delete_history(tenant, entity_id, attr, **options):
            what = f"attribute {attr} of " if attr else ""
            raise ResourceNotFound(f"no temporal history of {what}{entity_id}")
        if attr is None:
            # one entity, two views: deleting its temporal evolution deletes the entity
            await self.store.mutate(tenant, [(entity_id, lambda _: None)], history=False)

    async def replace_instance(
        self, tenant: str, entity_id: str, attr: str, instance_id: str, instance: dict[str, Any]
    ) -> None:
        if not await self.store.replace_instance(tenant, entity_id, attr, instance_id, instance):
            raise ResourceNotFound(f"no instance {instance_id} of {attr} in {entity_id}")

    async def forget_before(self, older_than: datetime) -> int:
        """The retention policy's sweep over every tenant."""
        return await self.store.retention(None, older_than)


def _any_instance(entity_id: str, attrs: tuple[str, ...] = ()) -> TemporalQuery:
    """The entity with one instance of each attribute, whatever its time: does it exist?"""
    return TemporalQuery(
        ids=(entity_id,), attrs=attrs, timeproperty="createdAt", instance_limit=1, limit=1
    )


def _current(entity_id: str, types: list[str], attrs: dict[str, list[Any]]) -> Entity:
    """The entity as its latest instances show it: one per attribute and datasetId."""
    now = now_iso()
    entity: Entity = {"id": entity_id, "type": types, "createdAt": now, "modifiedAt": now}
    for name, instances in attrs.items():
        latest: dict[str | None, dict[str, Any]] = {}
        for instance in instances:
            key = instance.get("datasetId")
            if key not in latest or str(instance.get("observedAt", "")) >= str(
                latest[key].get("observedAt", "")
            ):
                latest[key] = instance
        if latest:
            entity[name] = list(latest.values())
    return entity


def _instance_time(instance: dict[str, Any], timeproperty: str) -> datetime | None:
    text = instance.get(timeproperty) or instance.get("deletedAt")
    return parse_time(text) if isinstance(text, str) else None


def _paginate(page: TemporalPage, query: TemporalQuery) -> TemporalPage:
    limit = query.instance_limit
    if limit is None or query.aggregate or (query.last_n is not None and query.last_n <= limit):
        return page
    spans: list[tuple[datetime, datetime]] = []  # (first, last) in the order of the query
    for entity in page.entities:
        for instances in entity.instances.values():
            if len(instances) < limit:
                continue
            times = [t for i in instances if (t := _instance_time(i, query.timeproperty))]
            if times:
                spans.append((max(times), min(times)) if query.last_n else (min(times), max(times)))
    if not spans:
        return page
    # the range starts where the query does, or where its unbounded side's first instance of
    # every entity is (not only those cut: an entity with few instances keeps them all)
    every = [
        t
        for entity in page.entities
        for instances in entity.instances.values()
        for i in instances
        if (t := _instance_time(i, query.timeproperty))
    ]
    if query.last_n:
        end = max(s[1] for s in spans)
        if query.timerel == "before" and query.time_at:
            start = parse_time(query.time_at)
        elif query.timerel == "between" and query.end_time_at:
            start = parse_time(query.end_time_at)
        else:
            start = max(every)
        low, high = end, start
    else:
        end = min(s[1] for s in spans)
        if query.timerel in ("after", "between") and query.time_at:
            start = parse_time(query.time_at)
        else:
            start = min(every)
        low, high = start, end
    for entity in page.entities:
        for name, instances in entity.instances.items():
            entity.instances[name] = [
                i
                for i in instances
                if (t := _instance_time(i, query.timeproperty)) is not None and low <= t <= high
            ]
    size = str(query.last_n) if query.last_n else "*"
    page.range = (format_time(start), format_time(end), size)
    return page
