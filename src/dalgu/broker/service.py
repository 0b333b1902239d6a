"""The entity service: every NGSI-LD entity operation, independent of any transport.

Takes entities and fragments already parsed to the expanded form (`dalgu.broker.parse`), turns
each operation into store mutations, and tells in-process listeners what changed once the store
has committed (the seam subscriptions and temporal history use).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from dalgu.broker import mutations as m
from dalgu.broker.join import Join, fetch_linked
from dalgu.broker.lazy import LazyAttributeProvider
from dalgu.broker.linked_query import with_links_resolved
from dalgu.broker.model import Entity, attribute_iris, now_iso
from dalgu.broker.render import Representation
from dalgu.broker.rendered import default_rendering
from dalgu.errors import (
    AlreadyExists,
    BadRequestData,
    DalguError,
    ResourceNotFound,
    StoreUnavailable,
)
from dalgu.store.base import (
    AttributeInfo,
    Change,
    EntityQuery,
    EntityStore,
    Mutation,
    QueryResult,
    StoredRendering,
    TypeInfo,
)

PURGE_CHUNK = 1000  # entities listed and changed per transaction by a purge
HEALTH_PROBE_ID = "urn:ngsi-ld:Dalgu:health"  # `probe_store` reads it; nothing writes it

ChangeListener = Callable[[str, list[Change]], Awaitable[None]]


@dataclass(slots=True)
class BatchResult:
    """Per-entity outcome of a batch operation (clause 5.2.16)."""

    success: list[str] = field(default_factory=list)
    errors: list[tuple[str | None, DalguError]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)


BatchItem = Entity | DalguError  # an entity that parsed, or why it did not


class EntityService:
    def __init__(self, store: EntityStore) -> None:
        self.store = store
        if store.rendering is None:  # every write keeps the commonest read's answer
            store.use_rendering(default_rendering())
        self.listeners: list[ChangeListener] = []
        self.lazy: list[LazyAttributeProvider] = []  # sources of attributes read on demand

    async def _apply(self, tenant: str, items: Sequence[tuple[str, Mutation]]) -> list[Any]:
        outcomes = await self.store.mutate(tenant, [(i, m.in_order(w)) for i, w in items])
        changes = [o for o in outcomes if isinstance(o, Change)]
        if changes:
            for listener in self.listeners:
                await listener(tenant, changes)
        return outcomes

    async def _one(self, tenant: str, entity_id: str, mutation: Mutation) -> Change:
        (outcome,) = await self._apply(tenant, [(entity_id, mutation)])
        if isinstance(outcome, DalguError):
            raise outcome
        assert isinstance(outcome, Change)
        return outcome

    # --- single-entity operations -------------------------------------------------------

    async def create(self, tenant: str, entity: Entity) -> None:
        await self._one(tenant, entity["id"], m.create(entity))

    async def retrieve(
        self, tenant: str, entity_id: str, attrs: frozenset[str] | None = None
    ) -> Entity:
        """The stored entity with what lazy attribute providers give for it (of `attrs`, the
        attribute IRIs asked for, when given)."""
        entity = await self.store.get(tenant, entity_id)
        if entity is None:
            raise ResourceNotFound(f"entity {entity_id} does not exist")
        for provider in self.lazy:
            provided = await provider.provide(tenant, entity, attrs)
            if provided:
                entity = {**entity, **provided}
        return entity

    async def types_of(self, tenant: str, entity_id: str) -> list[str] | None:
        """The entity's types (IRIs), None when it does not exist here."""
        entity = await self.store.get(tenant, entity_id)
        return None if entity is None else list(entity["type"])

    async def retrieve_rendered(self, tenant: str, entity_id: str) -> StoredRendering | None:
        """The entity's kept default rendering (`default_rendering`), or its document when the
        store keeps none for it, when that is the whole entity; None when it does not exist or
        a lazy attribute provider may add to it (`retrieve` then says which)."""
        for provider in self.lazy:
            if await provider.serves(tenant, entity_id):
                return None
        return await self.store.get_rendered(tenant, entity_id)

    def outage(self, error: BaseException) -> StoreUnavailable | None:
        """`error` as the store outage it reports (503 at the edges), or None."""
        return self.store.outage(error)

    async def probe_store(self) -> None:
        """A point read of an entity that is never written: raises whatever the store raises
        when it cannot answer (health checks time it)."""
        await self.store.get_document("", HEALTH_PROBE_ID)

    async def query(self, tenant: str, query: EntityQuery) -> QueryResult:
        resolved = await with_links_resolved(self.store, tenant, query)
        if resolved is None:  # a linked term selects nothing that could hold
            return QueryResult([], 0 if query.count else None, [] if query.rendered else None)
        return await self.store.query(tenant, resolved)

    async def linked(
        self, tenant: str, roots: list[Entity], rep: Representation, join: Join
    ) -> dict[str, Entity]:
        """Linked Entity Retrieval (clause 4.5.23): the entities that what `rep` shows of
        `roots` links to, `join.level` hops deep, by id (roots included)."""
        return await fetch_linked(self.store, tenant, roots, rep, join)

    async def replace(self, tenant: str, entity: Entity) -> None:
        await self._one(tenant, entity["id"], m.replace(entity))

    async def merge(
        self,
        tenant: str,
        entity_id: str,
        fragment: Entity,
        lang: str | None = None,
        observed_at: str | None = None,
    ) -> None:
        """Merge Entity (clause 5.6.17); `lang`: the language of bare strings merged into a
        LanguageProperty; `observed_at`: the common observedAt of the merged attributes."""
        now = fragment.get("modifiedAt") or now_iso()

        def merge(entity: Entity) -> None:
            m.merge_entity(entity, fragment, now, lang=lang, observed_at=observed_at)

        await self._one(tenant, entity_id, m.edit(entity_id, merge, now))

    async def delete(self, tenant: str, entity_id: str) -> None:
        await self._one(tenant, entity_id, m.delete(entity_id))

    # --- attribute operations -----------------------------------------------------------

    async def append_attributes(
        self, tenant: str, entity_id: str, attrs: Entity, *, overwrite: bool = True
    ) -> m.UpdateResult:
        result = m.UpdateResult()
        now = attrs.get("modifiedAt") or now_iso()  # the attributes' stamp: one instant
        await self._one(
            tenant,
            entity_id,
            m.edit(
                entity_id,
                lambda e: m.append_attributes(e, attrs, result, overwrite=overwrite),
                now,
            ),
        )
        return result

    async def update_attributes(self, tenant: str, entity_id: str, attrs: Entity) -> m.UpdateResult:
        result = m.UpdateResult()
        now = attrs.get("modifiedAt") or now_iso()  # the attributes' stamp: one instant
        await self._one(
            tenant,
            entity_id,
            m.edit(entity_id, lambda e: m.update_attributes(e, attrs, result), now),
        )
        return result

    async def patch_attribute(
        self, tenant: str, entity_id: str, attr: str, fragment: dict[str, Any]
    ) -> None:
        """PATCH /entities/{id}/attrs/{attr} (clause 5.6.4): merge into one instance."""
        now = now_iso()

        def change(entity: Entity) -> None:
            instances = entity.get(attr)
            index = (
                None if instances is None else m.find_instance(instances, fragment.get("datasetId"))
            )
            if instances is None or index is None:
                raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}")
            kind = fragment.get("type")
            if kind is not None and kind != instances[index].get("type"):
                raise BadRequestData(
                    f"attribute {attr} is a {instances[index].get('type')}; "
                    f"a partial update cannot make it a {kind}"
                )
            if m.is_null(fragment):  # NGSI-LD Null deletes the targeted instance
                instances.pop(index)
                if not instances:
                    del entity[attr]
                return
            instances[index] = m.merge_instance(instances[index], fragment, now)

        await self._one(tenant, entity_id, m.edit(entity_id, change, now))

    async def replace_attribute(
        self, tenant: str, entity_id: str, attr: str, instances: list[dict[str, Any]]
    ) -> None:
        """PUT /entities/{id}/attrs/{attr} (clause 5.6.19)."""
        now = now_iso()

        def change(entity: Entity) -> None:
            current = entity.get(attr)
            if current is None:
                raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}")
            for new in instances:  # the instance replaced must exist (clause 5.6.19.4)
                dataset = new.get("datasetId")
                if m.find_instance(current, dataset) is None:
                    which = "its default instance" if dataset is None else f"datasetId {dataset}"
                    raise ResourceNotFound(f"attribute {attr} of {entity_id} has no {which}")
                m.put_instance(current, new)

        await self._one(tenant, entity_id, m.edit(entity_id, change, now))

    async def delete_attribute(
        self,
        tenant: str,
        entity_id: str,
        attr: str,
        *,
        dataset_id: str | None = None,
        delete_all: bool = False,
    ) -> None:
        now = now_iso()

        def change(entity: Entity) -> None:
            instances = entity.get(attr)
            if instances is None:
                raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}")
            if delete_all:
                del entity[attr]
                return
            index = m.find_instance(instances, dataset_id)
            if index is None:
                which = "default instance" if dataset_id is None else f"datasetId {dataset_id}"
                raise ResourceNotFound(f"attribute {attr} of {entity_id} has no {which}")
            instances.pop(index)
            if not instances:
                del entity[attr]

        await self._one(tenant, entity_id, m.edit(entity_id, change, now))

    async def delete_scope(self, tenant: str, entity_id: str) -> None:
        """DELETE /entities/{id}/attrs/scope: the scope is removed like an attribute."""
        now = now_iso()

        def change(entity: Entity) -> None:
            if "scope" not in entity:
                raise ResourceNotFound(f"entity {entity_id} has no scope")
            del entity["scope"]

        await self._one(tenant, entity_id, m.edit(entity_id, change, now))

    async def purge(
        self,
        tenant: str,
        query: EntityQuery,
        *,
        drop: frozenset[str] = frozenset(),
        keep: frozenset[str] | None = None,
    ) -> int:
        """Purge Entities (clause 5.6.21): delete every match, or only some of its members.

        `drop` names the members to delete, `keep` the only ones to keep; with neither, the
        entities go. Matches are listed first, then changed in chunks, so a purge never skips
        an entity that a change made stop matching. Returns how many entities matched.
        """
        ids: list[str] = []
        while True:
            found = await self.store.query(
                tenant, replace(query, limit=PURGE_CHUNK, offset=len(ids), count=False)
            )
            ids.extend(e["id"] for e in found.entities)
            if len(found.entities) < PURGE_CHUNK:
                break
        now = now_iso()

        def strip(entity: Entity) -> None:
            for member in [*attribute_iris(entity), "scope"]:
                if member in entity and (member in drop if keep is None else member not in keep):
                    del entity[member]

        for start in range(0, len(ids), PURGE_CHUNK):
            chunk = ids[start : start + PURGE_CHUNK]
            if drop or keep is not None:
                await self._apply(tenant, [(i, m.edit(i, strip, now)) for i in chunk])
            else:
                await self._apply(tenant, [(i, m.delete(i)) for i in chunk])
        return len(ids)

    # --- batch operations ---------------------------------------------------------------

    async def _batch(
        self, tenant: str, items: Sequence[tuple[str | None, Mutation | DalguError]]
    ) -> tuple[BatchResult, list[Any]]:
        result = BatchResult()
        runnable: list[tuple[str, Mutation]] = []
        for entity_id, item in items:
            if isinstance(item, DalguError) or entity_id is None:
                assert isinstance(item, DalguError)
                result.errors.append((entity_id, item))
            else:
                runnable.append((entity_id, item))
        outcomes = await self._apply(tenant, runnable) if runnable else []
        for (entity_id, _), outcome in zip(runnable, outcomes, strict=True):
            if isinstance(outcome, DalguError):
                result.errors.append((entity_id, outcome))
            else:
                result.success.append(entity_id)
                if outcome.before is None and outcome.after is not None:
                    result.created.append(entity_id)
        return result, outcomes

    async def batch_create(self, tenant: str, items: Sequence[BatchItem]) -> BatchResult:
        return (await self._batch(tenant, [_with(i, m.create) for i in items]))[0]

    async def batch_upsert(
        self, tenant: str, items: Sequence[BatchItem], mode: Literal["replace", "update"]
    ) -> BatchResult:
        def upsert(entity: Entity) -> Mutation:
            if mode == "replace":
                return m.replace(entity, must_exist=False)
            return _upsert_update(entity)

        return (await self._batch(tenant, [_with(i, upsert) for i in items]))[0]

    async def batch_update(
        self, tenant: str, items: Sequence[BatchItem], *, overwrite: bool = True
    ) -> BatchResult:
        now = now_iso()
        partial: dict[str, m.UpdateResult] = {}

        def update(entity: Entity) -> Mutation:
            def change(current: Entity) -> None:
                result = partial[entity["id"]] = m.UpdateResult()
                m.append_attributes(current, entity, result, overwrite=overwrite)

            return m.edit(entity["id"], change, now)

        result = (await self._batch(tenant, [_with(i, update) for i in items]))[0]
        # an entity whose attributes were (partly) kept by noOverwrite is in error (clause 5.6.9)
        for entity_id in list(result.success):
            kept = partial.get(entity_id)
            if kept is not None and kept.not_updated:
                names = ", ".join(sorted({name for name, _ in kept.not_updated}))
                result.success.remove(entity_id)
                result.errors.append(
                    (entity_id, AlreadyExists(f"attributes kept by noOverwrite: {names}"))
                )
        return result

    async def batch_merge(self, tenant: str, items: Sequence[BatchItem]) -> BatchResult:
        now = now_iso()

        def merge(entity: Entity) -> Mutation:
            return m.edit(entity["id"], lambda e: m.merge_entity(e, entity, now), now)

        return (await self._batch(tenant, [_with(i, merge) for i in items]))[0]

    async def batch_delete(self, tenant: str, ids: Sequence[str | DalguError]) -> BatchResult:
        items: list[tuple[str | None, Mutation | DalguError]] = [
            (i.extra.get("entity_id"), i) if isinstance(i, DalguError) else (i, m.delete(i))
            for i in ids
        ]
        return (await self._batch(tenant, items))[0]

    # --- introspection ------------------------------------------------------------------

    async def types(self, tenant: str) -> list[TypeInfo]:
        return await self.store.types(tenant)

    async def tenants(self) -> list[str]:
        """Every tenant that holds entities ("" the default one)."""
        return await self.store.tenants()

    async def attributes(self, tenant: str) -> list[AttributeInfo]:
        return await self.store.attributes(tenant)


def _with(
    item: BatchItem, make: Callable[[Entity], Mutation]
) -> tuple[str | None, Mutation | DalguError]:
    if isinstance(item, DalguError):
        return (item.extra.get("entity_id"), item)
    return (item["id"], make(item))


def _upsert_update(entity: Entity) -> Mutation:
    now = entity["modifiedAt"]

    def mutation(current: Entity | None) -> Entity:
        if current is None:
            if any(m.is_null(i) for iri in attribute_iris(entity) for i in entity[iri]):
                raise BadRequestData(
                    f"entity {entity['id']} does not exist: an NGSI-LD Null, which deletes an "
                    "attribute of an existing entity, cannot create one (clause 5.5.4)"
                )
            return entity
        updated = dict(current)
        for key in ("type", "scope"):
            if key in entity:
                have, given = updated.get(key), entity[key]
                if len(given) == 1 and have == given:  # a reading names the one type it has
                    updated[key] = list(given)
                else:
                    updated[key] = sorted(set(have or []) | set(given))
            elif key in updated:
                updated[key] = list(updated[key])
        # only the instance lists the fragment writes change: copy those, share the rest
        for iri in attribute_iris(entity):
            if iri in updated:
                updated[iri] = list(updated[iri])
        # a Null instance deletes its match, as in Update Attributes (clause 5.6.8.4, 5.5.8)
        appended = dict(entity)
        for iri in attribute_iris(entity):
            if any(m.is_null(i) for i in entity[iri]):
                kept = [i for i in entity[iri] if not m.is_null(i)]
                for null in (i for i in entity[iri] if m.is_null(i)):
                    index = m.find_instance(updated.get(iri, []), null.get("datasetId"))
                    if index is not None:
                        updated[iri].pop(index)
                if iri in updated and not updated[iri]:
                    del updated[iri]
                if kept:
                    appended[iri] = kept
                else:
                    del appended[iri]
        m.append_attributes(updated, appended, m.UpdateResult(), overwrite=True)
        updated["modifiedAt"] = now
        return updated

    return mutation
