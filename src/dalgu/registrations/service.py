"""The registration service: register, update, delete (clause 5.9), retrieve and discover
(clause 5.10) Context Source Registrations.

The requests forwarded to the registered context sources are `dalgu.federation`'s; `changed`
tells it when a tenant's registrations change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dalgu.errors import Conflict, ResourceNotFound
from dalgu.query.ast import TypeName, TypeOr
from dalgu.query.regex import searches
from dalgu.registrations.discovery import RegistrationQuery, discover
from dalgu.registrations.model import entity_types, merge_registration, valid
from dalgu.registrations.subscriptions import CSourceSubscriptionService
from dalgu.store.base import EntityQuery, EntityStore, RegistrationStore

#: modes whose registrations claim entity information for one context source alone
_CLAIMING = ("exclusive", "redirect")


class RegistrationService:
    def __init__(
        self,
        store: RegistrationStore,
        entities: EntityStore | None = None,
        csource_subscriptions: CSourceSubscriptionService | None = None,
        *,
        changed: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.entities = entities
        self.csource_subscriptions = csource_subscriptions
        self.changed = changed

    async def create(self, tenant: str, doc: dict[str, Any]) -> str:
        await self._check_mode(tenant, doc)
        await self.store.put_registration(tenant, doc["id"], doc, create=True)
        await self._changed(tenant, None, doc)
        return str(doc["id"])

    async def retrieve(self, tenant: str, registration_id: str) -> dict[str, Any]:
        doc = await self.store.get_registration(tenant, registration_id)
        if doc is None:
            raise ResourceNotFound(f"registration {registration_id} does not exist")
        return doc

    async def with_status(self, tenant: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`docs` as shown: with what distributed operations did with each (Table 5.2.9-2:
        `status` ok or failed by the last request, `timesSent`, `timesFailed`, `lastSuccess`,
        `lastFailure`), for those that have been sent anything."""
        found = await self.store.forwarding_status(tenant, [str(d["id"]) for d in docs])
        shown = []
        for doc in docs:
            status = found.get(str(doc["id"]))
            if status is None:
                shown.append(doc)
                continue
            extra: dict[str, Any] = {
                "timesSent": status.times_sent,
                "timesFailed": status.times_failed,
            }
            if status.last_success is not None:
                extra["lastSuccess"] = status.last_success
            if status.last_failure is not None:
                extra["lastFailure"] = status.last_failure
            failed = status.last_failure is not None and (
                status.last_success is None or status.last_failure > status.last_success
            )
            extra["status"] = "failed" if failed else "ok"
            shown.append({**doc, **extra})
        return shown

    async def query(
        self,
        tenant: str,
        query: RegistrationQuery,
        expand: Callable[[str], str],
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the matching registrations (each with its matching information only)
        and how many match in all; expired ones match nothing."""
        matching = []
        for doc in valid(await self.store.registrations(tenant)):  # as forwarding takes them
            found = discover(query, doc, expand)
            if found is not None:
                matching.append(found)
        return matching[offset : offset + limit], len(matching)

    async def update(self, tenant: str, registration_id: str, fragment: dict[str, Any]) -> None:
        current = await self.retrieve(tenant, registration_id)
        merged = merge_registration(current, fragment)
        await self._check_mode(tenant, merged)
        await self.store.put_registration(tenant, registration_id, merged, create=False)
        await self._changed(tenant, current, merged)

    async def delete(self, tenant: str, registration_id: str) -> None:
        current = await self.retrieve(tenant, registration_id)
        if not await self.store.delete_registration(tenant, registration_id):
            raise ResourceNotFound(f"registration {registration_id} does not exist")
        await self._changed(tenant, current, None)

    async def _changed(
        self, tenant: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        """Notify csource subscriptions (clause 5.11.7). Queued after the registration's own
        commit, not in it: a crash between the two loses these notifications."""
        if self.changed is not None:
            self.changed(tenant)
        if self.csource_subscriptions is not None:
            await self.csource_subscriptions.registration_changed(tenant, before, after)

    async def _check_mode(self, tenant: str, doc: dict[str, Any]) -> None:
        """The restrictions of exclusive and redirect registrations (clauses 5.9.2.4,
        5.9.3.4): what an exclusive one registers must not be claimed by another exclusive or
        redirect registration, nor a redirect one's by an exclusive one, nor held by an entity
        of this broker. Redirect registrations may overlap (clause 4.3.6.3: "multiple distinct
        redirect registrations can apply at the same time"; the ETSI suite's D010_01_red
        registers two for one entity)."""
        mode = doc.get("mode")
        if mode not in _CLAIMING:
            return
        others = [
            d
            for d in await self.store.registrations(tenant)
            if d["id"] != doc["id"]
            and d.get("mode") in _CLAIMING
            and "exclusive" in (mode, d.get("mode"))
        ]
        for info in doc["information"]:
            names = _names(info)
            for entity in info.get("entities", ()):
                for other in others:
                    if _claims(other, entity, names):
                        what = entity.get("id") or entity.get("idPattern") or "every entity"
                        raise Conflict(
                            f"registration {other['id']} ({other.get('mode')}) already "
                            f"claims {what} of type {_shown(entity)} with a common attribute"
                        )
                await self._check_entities(tenant, mode, entity, names)

    async def _check_entities(
        self, tenant: str, mode: str, entity: dict[str, Any], names: set[str]
    ) -> None:
        if self.entities is None:
            return
        if mode == "exclusive":
            if "id" not in entity:
                return
            stored = await self.entities.get(tenant, entity["id"])
            if stored is not None and (not names or names & set(stored)):
                raise Conflict(
                    f"entity {entity['id']} already holds attributes this exclusive "
                    "registration claims"
                )
            return
        result = await self.entities.query(
            tenant,
            EntityQuery(
                ids=(entity["id"],) if "id" in entity else (),
                id_pattern=entity.get("idPattern"),
                types=TypeOr(tuple(TypeName(t) for t in entity_types(entity))),
                limit=1,
            ),
        )
        if result.entities:
            raise Conflict(
                f"entity {result.entities[0]['id']} exists here: it cannot be redirected"
            )


def _names(info: dict[str, Any]) -> set[str]:
    return set(info.get("propertyNames", ())) | set(info.get("relationshipNames", ()))


def _claims(other: dict[str, Any], entity: dict[str, Any], names: set[str]) -> bool:
    """Does `other` (exclusive or redirect) register an entity that `entity` (an EntityInfo)
    may be, with any of `names` (none: every attribute)? Clause 4.3.6.3: no overlapping
    proxied registrations for the same attributes of an entity."""
    for info in other["information"]:
        theirs = _names(info)
        if names and theirs and not names & theirs:
            continue
        if any(_same_entity(entity, e) for e in info.get("entities", ())):
            return True
    return False


def _same_entity(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """May an entity match both EntityInfos? Ids are unique; an id meets a pattern that
    matches it; two patterns are taken to meet only when they are the same; an EntityInfo
    without id or pattern meets every entity of a common type."""
    if "id" in one and "id" in other:
        return bool(one["id"] == other["id"])
    if not set(entity_types(one)) & set(entity_types(other)):
        return False
    for a, b in ((one, other), (other, one)):
        if "id" in a and "idPattern" in b:
            return searches(b["idPattern"], a["id"])
    if "idPattern" in one and "idPattern" in other:
        return bool(one["idPattern"] == other["idPattern"])
    return True


def _shown(entity: dict[str, Any]) -> str:
    return ", ".join(entity_types(entity))
