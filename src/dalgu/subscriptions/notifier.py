"""Turn committed changes into notifications and deliver them, at least once.

Two loops. The matcher reads the durable change outbox past its cursor, matches each change
against the tenant's subscriptions (indexed by entity type and watched attribute), and queues
rendered notifications; queueing and advancing the cursor are one transaction. The sender
takes due deliveries and sends each subscription's in order (so per-entity order holds), one
task per subscription, so a slow or dead endpoint delays only its own subscription. Failures
are retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import orjson

from dalgu.broker.model import now_iso
from dalgu.broker.render import Representation, render_entity
from dalgu.errors import DalguError
from dalgu.ldcontext import CORE_CONTEXT_URL, ContextResolver, TermMap
from dalgu.query.ast import GeoQuery, QExpr, TypeName, TypeOr, map_names
from dalgu.query.geo import parse_geoquery
from dalgu.query.q import parse_q
from dalgu.store.base import ChangeRecord, Delivery, EntityQuery, EntityStore, SubscriptionStore
from dalgu.subscriptions import matching
from dalgu.subscriptions.endpoints import DeliveryFailed, HttpSender, MqttSender
from dalgu.subscriptions.model import status_of

log = logging.getLogger("dalgu.notifier")
CONSUMER = "notifier"
MAX_ATTEMPTS = 12
CONTEXT_LINK = '<{}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


class _Compiled:
    """A subscription with its filters parsed and names expanded, cached per version."""

    def __init__(self, doc: dict[str, Any], terms: TermMap) -> None:
        self.doc = doc
        self.terms = terms
        self.q: QExpr | None = map_names(parse_q(doc["q"]), terms.expand) if "q" in doc else None
        self.geo: GeoQuery | None = None
        if "geoQ" in doc:
            g = doc["geoQ"]
            geo = parse_geoquery(g["georel"], g["geometry"], g["coordinates"], g.get("geoproperty"))
            self.geo = replace(geo, geoproperty=terms.expand(geo.geoproperty))


class _TenantIndex:
    """A tenant's subscriptions by entity type and, for those without entity selectors, by
    watched attribute: a change is checked only against subscriptions that could match it."""

    def __init__(self, subscriptions: list[_Compiled]) -> None:
        self.by_type: dict[str, list[_Compiled]] = defaultdict(list)
        self.by_type_attribute: dict[tuple[str, str], list[_Compiled]] = defaultdict(list)
        self.by_attribute: dict[str, list[_Compiled]] = defaultdict(list)
        self.on_delete: dict[str, list[_Compiled]] = defaultdict(list)
        for sub in subscriptions:
            types = {s["type"] for s in sub.doc.get("entities") or ()}
            watched = sub.doc.get("watchedAttributes") or ()
            for type_iri in types:
                if watched:
                    for attr in watched:
                        self.by_type_attribute[(type_iri, attr)].append(sub)
                    self.on_delete[type_iri].append(sub)  # entityDeleted ignores watching
                else:
                    self.by_type[type_iri].append(sub)
            if not types:
                for attr in watched:
                    self.by_attribute[attr].append(sub)

    def candidates(
        self, types: Iterable[str], touched: Iterable[str], deleted: bool
    ) -> list[_Compiled]:
        seen: dict[str, _Compiled] = {}
        touched = list(touched)
        for type_iri in types:
            for sub in self.by_type.get(type_iri, ()):
                seen[sub.doc["id"]] = sub
            for attr in touched:
                for sub in self.by_type_attribute.get((type_iri, attr), ()):
                    seen[sub.doc["id"]] = sub
            if deleted:
                for sub in self.on_delete.get(type_iri, ()):
                    seen[sub.doc["id"]] = sub
        for attr in touched:
            for sub in self.by_attribute.get(attr, ()):
                seen[sub.doc["id"]] = sub
        return list(seen.values())


class Notifier:
    def __init__(
        self,
        store: SubscriptionStore,
        resolver: ContextResolver,
        entities: EntityStore | None = None,
    ) -> None:
        self.store = store
        self.entities = entities
        self._periodic_due: dict[tuple[str, str], float] = {}
        self._periodic: list[dict[str, Any]] = []
        self._periodic_generation = -1
        self.resolver = resolver
        self._wake = asyncio.Event()
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}
        self._indexes: dict[str, _TenantIndex] = {}
        self._generation = -1
        self._last_sent: dict[tuple[str, str], float] = {}
        self._in_flight: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http = HttpSender()
        self._mqtt = MqttSender()
        self._runner: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def changed(self, tenant: str, changes: list[Any]) -> None:
        """EntityService listener: a commit happened, look at the outbox now."""
        self._wake.set()

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name="dalgu-notifier")

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.close()
        await self._mqtt.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.match_pending()
                await self.notify_periodic()
                await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep notifying whatever one bad batch did
                log.exception("notifier iteration failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=0.5)
            self._wake.clear()

    # --- matching -----------------------------------------------------------------------

    async def match_pending(self) -> int:
        total = 0
        while True:
            changes = await self.store.changes_after(CONSUMER, 500)
            if not changes:
                return total
            generation = await self.store.subscription_generation()
            if generation != self._generation:
                self._indexes.clear()
                self._compiled.clear()
                self._generation = generation
            deliveries: list[tuple[str, str, bytes]] = []
            for change in changes:
                deliveries.extend(await self._match(change))
            await self.store.commit_changes(CONSUMER, changes[-1].seq, deliveries)
            total += len(deliveries)

    async def _index(self, tenant: str) -> _TenantIndex:
        index = self._indexes.get(tenant)
        if index is None:
            index = self._indexes[tenant] = _TenantIndex(await self._subscriptions(tenant))
        return index

    async def _subscriptions(self, tenant: str) -> list[_Compiled]:
        docs, _ = await self.store.list_subscriptions(tenant, 1_000_000, 0)
        compiled = []
        for doc in docs:
            key = (tenant, doc["id"], doc.get("modifiedAt", ""))
            item = self._compiled.get(key)
            if item is None:
                try:
                    item = _Compiled(doc, await self.resolver.resolve(doc.get("@context")))
                except DalguError as error:
                    log.warning("subscription %s cannot be evaluated: %s", doc["id"], error)
                    continue
                self._compiled[key] = item
            item.doc = doc
            compiled.append(item)
        return compiled

    async def _match(self, change: ChangeRecord) -> list[tuple[str, str, bytes]]:
        entity = change.after if change.after is not None else change.before
        if entity is None:
            return []
        trigger = matching.diff(change.before, change.after)
        out = []
        index = await self._index(change.tenant)
        rows: matching.RowIndex | None = None
        candidates = index.candidates(
            entity.get("type", ()), trigger.touched, trigger.entity_deleted
        )
        for sub in candidates:
            doc = sub.doc
            if status_of(doc) != "active" or "timeInterval" in doc:
                continue
            reason = matching.trigger_reason(doc, trigger)
            if reason is None or not matching.selects(doc, entity):
                continue
            if sub.q is not None and rows is None:
                rows = matching.row_index(entity)
            if not (
                matching.q_ok(sub.q, entity, rows)
                and matching.geo_ok(sub.geo, entity)
                and matching.scope_ok(doc.get("scopeQ"), entity)
            ):
                continue
            throttling = doc.get("throttling")
            now = time.monotonic()
            key = (change.tenant, doc["id"])
            if throttling and now - self._last_sent.get(key, -1e18) < throttling:
                continue
            self._last_sent[key] = now
            payload = self._payload(sub, change, entity, reason)
            out.append((change.tenant, doc["id"], payload))
        return out

    def _payload(
        self, sub: _Compiled, change: ChangeRecord, entity: dict[str, Any], reason: str
    ) -> bytes:
        doc = sub.doc
        params = doc["notification"]
        if change.after is None:
            data = [
                {
                    "id": entity["id"],
                    "type": _compact_types(entity, sub.terms),
                    "deletedAt": change.at,
                }
            ]
        else:
            attrs = params.get("attributes")
            rep = Representation(
                format=params.get("format", "normalized"),
                sys_attrs=params.get("sysAttrs", False),
                lang=doc.get("lang"),
                attrs=frozenset(attrs) if attrs else None,
            )
            rendered = render_entity(change.after, sub.terms, rep)
            if params.get("showChanges") and change.before is not None:
                _add_previous(rendered, change.before, sub.terms, rep)
            data = [rendered]
        return _notification(doc["id"], data, reason)

    async def notify_periodic(self) -> int:
        """Subscriptions with timeInterval: the current matching entities, every interval."""
        if self.entities is None:
            return 0
        generation = await self.store.subscription_generation()
        if generation != self._periodic_generation:
            docs, _ = await self.store.list_subscriptions(None, 1_000_000, 0)
            self._periodic = [d for d in docs if d.get("timeInterval")]
            self._periodic_generation = generation
        now = time.monotonic()
        docs = self._periodic
        queued: list[tuple[str, str, bytes]] = []
        for doc in docs:
            interval = doc.get("timeInterval")
            tenant = doc.get("tenant", "")
            key = (tenant, doc["id"])
            if not interval or status_of(doc) != "active":
                continue
            if now < self._periodic_due.get(key, 0.0):
                continue
            self._periodic_due[key] = now + float(interval)
            sub = _Compiled(doc, await self.resolver.resolve(doc.get("@context")))
            selectors = doc.get("entities") or []
            query = EntityQuery(
                ids=tuple(s["id"] for s in selectors if "id" in s),
                types=TypeOr(tuple(TypeName(s["type"]) for s in selectors)) if selectors else None,
                q=sub.q,
                geo=sub.geo,
                limit=1000,
            )
            found = await self.entities.query(tenant, query)
            if not found.entities:
                continue
            params = doc["notification"]
            attrs = params.get("attributes")
            rep = Representation(
                format=params.get("format", "normalized"),
                sys_attrs=params.get("sysAttrs", False),
                lang=doc.get("lang"),
                attrs=frozenset(attrs) if attrs else None,
            )
            data = [render_entity(e, sub.terms, rep) for e in found.entities]
            queued.append((tenant, doc["id"], _notification(doc["id"], data, "timeInterval")))
        if queued:
            await self.store.enqueue(queued)
        return len(queued)

    # --- sending ------------------------------------------------------------------------

    async def send_due(self) -> None:
        due = await self.store.due_deliveries(time.time(), 1000)
        by_sub: dict[tuple[str, str], list[Delivery]] = defaultdict(list)
        for delivery in due:
            by_sub[(delivery.tenant, delivery.subscription_id)].append(delivery)
        for key, deliveries in by_sub.items():
            if key in self._in_flight:
                continue
            self._in_flight.add(key)
            task = asyncio.create_task(self._send_all(key, deliveries))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_all(self, key: tuple[str, str], deliveries: list[Delivery]) -> None:
        """Send one subscription's due notifications in order; record them in one commit."""
        sent: list[Delivery] = []
        try:
            doc = await self.store.get_subscription(*key)
            if doc is None:
                await self.store.complete_deliveries(deliveries, {})
                return
            endpoint = doc["notification"]["endpoint"]
            for delivery in deliveries:
                if not await self._send(doc, endpoint, delivery):
                    break  # keep order: later notifications wait for this one's retry
                sent.append(delivery)
        finally:
            if sent:
                now = now_iso()
                status = {"timesSent": len(sent), "lastSuccess": now, "lastNotification": now}
                await self.store.complete_deliveries(sent, status)
            self._in_flight.discard(key)
            self.wake()

    async def _send(
        self, doc: dict[str, Any], endpoint: dict[str, Any], delivery: Delivery
    ) -> bool:
        """True when sent; False when it failed and was rescheduled (or given up)."""
        headers, body = _wire(doc, endpoint, delivery)
        try:
            if endpoint["uri"].startswith(("mqtt://", "mqtts://")):
                await self._mqtt.send(endpoint["uri"], headers, body, endpoint.get("notifierInfo"))
            else:
                await self._http.send(endpoint["uri"], headers, body)
        except DeliveryFailed as failure:
            now = now_iso()
            attempts = delivery.attempts + 1
            give_up = attempts >= MAX_ATTEMPTS
            retry_at = None if give_up else time.time() + min(2.0**attempts * 0.25, 300.0)
            log.info(
                "notification to %s failed (%s), attempt %d", endpoint["uri"], failure, attempts
            )
            await self.store.finish_delivery(
                delivery,
                ok=False,
                retry_at=retry_at,
                status={"timesFailed": 1, "lastFailure": now, "lastNotification": now},
            )
            return False
        return True


def _notification(subscription_id: str, data: list[Any], reason: str) -> bytes:
    return orjson.dumps(
        {
            "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
            "type": "Notification",
            "subscriptionId": subscription_id,
            "notifiedAt": now_iso(),
            "data": data,
            "triggerReason": reason,
        }
    )


def _wire(
    doc: dict[str, Any], endpoint: dict[str, Any], delivery: Delivery
) -> tuple[dict[str, str], bytes]:
    """Headers and body for the endpoint's `accept` (clause 5.2.15 / 6.3.x)."""
    context = doc.get("jsonldContext") or doc.get("@context") or CORE_CONTEXT_URL
    headers = {i["key"]: i["value"] for i in endpoint.get("receiverInfo", [])}
    if delivery.tenant:
        headers["NGSILD-Tenant"] = delivery.tenant
    body = delivery.payload
    if endpoint.get("accept") == "application/ld+json":
        notification = orjson.loads(body)
        notification["@context"] = context
        # each entity of `data` is a JSON-LD document of its own (as the ETSI suite reads it)
        notification["data"] = [
            {**e, "@context": context} if isinstance(e, dict) else e
            for e in notification.get("data", [])
        ]
        body = orjson.dumps(notification)
        headers["Content-Type"] = "application/ld+json"
    else:
        headers["Content-Type"] = "application/json"
        if isinstance(context, str):
            headers["Link"] = CONTEXT_LINK.format(context)
    return headers, body


def _compact_types(entity: dict[str, Any], terms: TermMap) -> Any:
    types = [terms.compact(t) for t in entity.get("type", [])]
    return types[0] if len(types) == 1 else types


_PREVIOUS = {
    "value": "previousValue",
    "object": "previousObject",
    "vocab": "previousVocab",
    "languageMap": "previousLanguageMap",
    "json": "previousJson",
    "valueList": "previousValueList",
    "objectList": "previousObjectList",
}


def _add_previous(
    rendered: dict[str, Any], before: dict[str, Any], terms: TermMap, rep: Representation
) -> None:
    """showChanges: the previous value next to each changed attribute (clause 5.8.x)."""
    if rep.format == "keyValues":
        return
    for iri, instances in before.items():
        name = terms.compact(iri)
        current = rendered.get(name)
        if not isinstance(current, dict) or not isinstance(instances, list) or not instances:
            continue
        old = instances[0]
        for member, previous in _PREVIOUS.items():
            if member in old and old[member] != current.get(member):
                current[previous] = old[member]
