"""Context Source Registration Subscriptions (clause 5.11) and their notifications (5.3.2).

A csource subscription is a Subscription (clause 5.2.12) whose entities, watched attributes
and notification attributes are matched against the `information` of registrations
(clause 5.12), with `geoQ`, `csf`, `scopeQ` and `temporalQ` as in discovery. Without a
`timeInterval` it is notified initially and on every change of a matching registration
(`newlyMatching`, `updated`, `noLongerMatching`); with one, periodically by the notifier.
Its notifications go through the same delivery queue as entity notifications.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from dalgu.broker.model import NULL_URI, now_iso
from dalgu.errors import BadRequestData, DalguError, ResourceNotFound
from dalgu.ldcontext import ContextResolver, TermMap
from dalgu.query.ast import TypeExpr, TypeName, map_names, map_type_names
from dalgu.query.geo import parse_geoquery
from dalgu.query.q import parse_q
from dalgu.query.scope import parse_scope_query
from dalgu.query.typesel import parse_type_selection
from dalgu.registrations.discovery import RegistrationQuery, TemporalFilter, discover
from dalgu.registrations.model import instant, render_registration, valid
from dalgu.store.base import RegistrationStore, SubscriptionStore
from dalgu.subscriptions.model import (
    is_type_selection,
    merge_subscription,
    parse_subscription,
    render_subscription,
    status_of,
)
from dalgu.subscriptions.payload import context_of

log = logging.getLogger("dalgu.registrations")
_TIME_PROPERTIES = ("observedAt", "createdAt", "modifiedAt", "deletedAt")
#: entity subscription members that mean nothing for registrations
_ENTITY_ONLY = ("notificationTrigger", "datasetId", "expandValues", "jsonKeys", "localOnly")


def parse_temporal_q(value: Any) -> dict[str, str]:
    """A TemporalQuery member (clause 5.2.21): timerel, timeAt, endTimeAt, timeproperty."""
    from dalgu.broker.model import is_datetime

    if not isinstance(value, dict):
        raise BadRequestData("temporalQ must be an object")
    unknown = set(value) - {"timerel", "timeAt", "endTimeAt", "timeproperty"}
    if unknown:
        raise BadRequestData(f"unknown temporalQ member(s): {', '.join(sorted(unknown))}")
    timerel = value.get("timerel")
    if timerel not in ("before", "after", "between"):
        raise BadRequestData("temporalQ.timerel must be before, after or between")
    if not is_datetime(value.get("timeAt")):
        raise BadRequestData("temporalQ.timeAt must be a DateTime")
    if timerel == "between" and not is_datetime(value.get("endTimeAt")):
        raise BadRequestData("temporalQ with between needs an endTimeAt DateTime")
    if value.get("timeproperty", "observedAt") not in _TIME_PROPERTIES:
        raise BadRequestData(f"temporalQ.timeproperty must be one of {', '.join(_TIME_PROPERTIES)}")
    return dict(value)


def parse_csource_subscription(
    body: Any, terms: TermMap, context: Any, *, partial: bool = False
) -> dict[str, Any]:
    """A csource subscription (or a PATCH fragment) in stored form."""
    if not isinstance(body, dict):
        raise BadRequestData("a subscription must be a JSON object")
    temporal = body.get("temporalQ")
    removed = partial and "temporalQ" in body and temporal in (None, NULL_URI)
    rest = {k: v for k, v in body.items() if k != "temporalQ"}
    if not partial and "id" not in rest:
        rest["id"] = f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    doc = parse_subscription(rest, terms, context, partial=partial)
    for key in _ENTITY_ONLY:
        doc.pop(key, None)
    if removed:
        doc["temporalQ"] = NULL_URI  # removed by `merge_subscription` (clause 5.5.8)
    elif temporal is not None:
        doc["temporalQ"] = parse_temporal_q(temporal)
    return doc


def render_csource_subscription(
    doc: dict[str, Any], terms: TermMap, *, sys_attrs: bool = False
) -> dict[str, Any]:
    out = render_subscription(doc, terms, sys_attrs=sys_attrs)
    out.pop("notificationTrigger", None)
    return out


class CompiledCSourceSubscription:
    """A csource subscription as registration queries, one per entity selector."""

    def __init__(self, doc: dict[str, Any], terms: TermMap) -> None:
        self.doc = doc
        self.terms = terms
        # clause 5.12: without notification attributes, no attribute restricts the match;
        # with them, they and the watched attributes do
        shown = tuple(doc["notification"].get("attributes", ()))
        attrs = tuple(doc.get("watchedAttributes", ())) + shown if shown else ()
        geo = None
        if "geoQ" in doc:
            g = doc["geoQ"]
            parsed = parse_geoquery(
                g["georel"], g["geometry"], g["coordinates"], g.get("geoproperty")
            )
            geo = replace(parsed, geoproperty=terms.expand(parsed.geoproperty))
        temporal = None
        if "temporalQ" in doc:
            t = doc["temporalQ"]
            temporal = TemporalFilter(
                timerel=t["timerel"],
                time_at=t["timeAt"],
                end_time_at=t.get("endTimeAt"),
                management=t.get("timeproperty", "observedAt") != "observedAt",
            )
        base = RegistrationQuery(
            attrs=attrs,
            geo=geo,
            temporal=temporal,
            csf=map_names(parse_q(doc["csf"]), terms.expand) if doc.get("csf") else None,
            scope=parse_scope_query(doc["scopeQ"]) if doc.get("scopeQ") else None,
        )
        selectors = doc.get("entities") or [{}]
        self.queries = [
            replace(
                base,
                ids=(s["id"],) if "id" in s else (),
                id_pattern=s.get("idPattern"),
                types=self._types(s["type"]) if "type" in s else None,
            )
            for s in selectors
        ]

    def _types(self, text: str) -> TypeExpr:
        if is_type_selection(text):
            return map_type_names(parse_type_selection(text), self.terms.expand)
        return TypeName(text)

    def match(self, registration: dict[str, Any] | None) -> dict[str, Any] | None:
        """The registration with the information this subscription matches, or None."""
        if registration is None:
            return None
        information: list[dict[str, Any]] = []
        for query in self.queries:
            found = discover(query, registration, self.terms.expand)
            if found is not None:
                information.extend(i for i in found["information"] if i not in information)
        return {**registration, "information": information} if information else None

    @property
    def active(self) -> bool:
        return status_of(self.doc) == "active"


def csource_notification(
    subscription_id: str, registrations: list[dict[str, Any]], terms: TermMap, reason: str
) -> bytes:
    """A CSourceNotification (clause 5.3.2, Table 5.3.2-1: of type ContextSourceNotification)."""
    return orjson.dumps(
        {
            "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
            "type": "ContextSourceNotification",
            "subscriptionId": subscription_id,
            "notifiedAt": now_iso(),
            "data": [render_registration(r, terms) for r in registrations],
            "triggerReason": reason,
        }
    )


def change_reason(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str | None:
    if before is None and after is not None:
        return "newlyMatching"
    if before is not None and after is None:
        return "noLongerMatching"
    return "updated" if before is not None else None


class CSourceSubscriptionService:
    """Create, read, update and delete csource subscriptions (clauses 5.11.2–5.11.6), and
    notify them of registration changes (5.11.7)."""

    def __init__(
        self,
        store: RegistrationStore,
        deliveries: SubscriptionStore,
        resolver: ContextResolver,
    ) -> None:
        self.store = store
        self.deliveries = deliveries
        self.resolver = resolver

    async def compile(self, doc: dict[str, Any]) -> CompiledCSourceSubscription:
        return CompiledCSourceSubscription(doc, await self.resolver.resolve(context_of(doc)))

    async def output_terms(self, doc: dict[str, Any]) -> TermMap:
        if "jsonldContext" in doc:
            return await self.resolver.resolve(doc["jsonldContext"])
        return await self.resolver.resolve(context_of(doc))

    async def create(self, tenant: str, doc: dict[str, Any]) -> str:
        doc = {**doc, "tenant": tenant}
        compiled = await self.compile(doc)  # a filter that cannot be evaluated fails now
        await self.store.put_csource_subscription(tenant, doc["id"], doc, create=True)
        await self.initial(tenant, compiled)
        return str(doc["id"])

    async def initial(self, tenant: str, compiled: CompiledCSourceSubscription) -> None:
        """The notification of every matching registration, at creation and after an
        update (5.11.2.4, 5.11.3.4); with a timeInterval the notifier sends them."""
        if not compiled.active or "timeInterval" in compiled.doc:
            return
        found = [
            m
            for m in (compiled.match(r) for r in valid(await self.store.registrations(tenant)))
            if m is not None
        ]
        if found:
            terms = await self.output_terms(compiled.doc)
            payload = csource_notification(compiled.doc["id"], found, terms, "newlyMatching")
            await self.deliveries.enqueue([(tenant, compiled.doc["id"], payload)])

    async def retrieve(self, tenant: str, subscription_id: str) -> dict[str, Any]:
        doc = await self.store.get_csource_subscription(tenant, subscription_id)
        if doc is None:
            raise ResourceNotFound(f"subscription {subscription_id} does not exist")
        return doc

    async def query(self, tenant: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        return await self.store.list_csource_subscriptions(tenant, limit, offset)

    async def update(self, tenant: str, subscription_id: str, fragment: dict[str, Any]) -> None:
        current = await self.retrieve(tenant, subscription_id)
        merged = merge_subscription(current, fragment)
        compiled = await self.compile(merged)
        await self.store.put_csource_subscription(tenant, subscription_id, merged, create=False)
        await self.initial(tenant, compiled)  # "finally, send ... all currently matching"

    async def delete(self, tenant: str, subscription_id: str) -> None:
        if not await self.store.delete_csource_subscription(tenant, subscription_id):
            raise ResourceNotFound(f"subscription {subscription_id} does not exist")

    async def registration_changed(
        self, tenant: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        """Queue the notifications a registration's creation, update or deletion causes
        for the tenant's active csource subscriptions without a timeInterval."""
        docs, _ = await self.store.list_csource_subscriptions(tenant, 1_000_000, 0)
        queued = []
        for doc in docs:
            if "timeInterval" in doc:
                continue
            try:
                compiled = await self.compile(doc)
            except DalguError as error:  # e.g. its @context is no longer reachable
                # the registration is already written: its writer gets 201/204 regardless
                log.warning("csource subscription %s cannot be evaluated: %s", doc["id"], error)
                continue
            if not compiled.active:
                continue
            was, now = compiled.match(before), compiled.match(after)
            reason = change_reason(was, now)
            if reason is None:
                continue
            shown = now if now is not None else was
            assert shown is not None
            terms = await self.output_terms(doc)
            queued.append(
                (tenant, doc["id"], csource_notification(doc["id"], [shown], terms, reason))
            )
        if queued:
            await self.deliveries.enqueue(queued)

    async def notify_expired(self, since: str, until: str) -> int:
        """Queue `noLongerMatching` for the registrations whose `expiresAt` fell in
        (`since`, `until`]: an expired registration is invalid (clause 5.2.9) and matches no
        subscription any more, as if deleted. Returns how many registrations expired."""
        docs, _ = await self.store.list_csource_subscriptions(None, 1_000_000, 0)
        tenants = {doc.get("tenant", "") for doc in docs if "timeInterval" not in doc}
        low, high = instant(since), instant(until)
        expired = 0
        for tenant in sorted(tenants):
            for registration in await self.store.registrations(tenant):
                ends = registration.get("expiresAt")
                if isinstance(ends, str) and low < instant(ends) <= high:
                    expired += 1
                    await self.registration_changed(tenant, registration, None)
        return expired

    async def notify_periodic(self, due: Callable[[dict[str, Any]], bool]) -> int:
        """Queue one notification of all matching registrations for each active csource
        subscription with a timeInterval that `due` says is due; returns how many."""
        docs, _ = await self.store.list_csource_subscriptions(None, 1_000_000, 0)
        queued = []
        for doc in docs:
            if "timeInterval" not in doc or not due(doc):
                continue
            try:
                compiled = await self.compile(doc)
            except DalguError as error:
                log.warning("csource subscription %s cannot be evaluated: %s", doc["id"], error)
                continue
            if not compiled.active:
                continue
            tenant = doc.get("tenant", "")
            found = [
                m
                for m in (compiled.match(r) for r in valid(await self.store.registrations(tenant)))
                if m is not None
            ]
            if not found:
                continue
            terms = await self.output_terms(doc)
            queued.append(
                (tenant, doc["id"], csource_notification(doc["id"], found, terms, "timeInterval"))
            )
        if queued:
            await self.deliveries.enqueue(queued)
        return len(queued)
