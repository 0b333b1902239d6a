"""Turn committed changes into notifications and deliver them, at least once.

The matcher reads the durable change outbox past its cursor in batches, matches each change
against the tenant's subscriptions (indexed by entity type and watched attribute), and queues
rendered notifications; queueing and advancing the cursor are one transaction. Its sender
(`sender.py`) takes due deliveries and sends them, one queue per subscription, in order.

The notifier runs inline in the API's event loop (woken by the entity service's listener) or
as a process of its own (`dalgu notifier`), woken by the store (PostgreSQL LISTEN; on SQLite a
datagram from the committing process, `dalgu.store.sqlite.outbox_signal`), or, where the
store cannot wake it, polling the outbox every few milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from dalgu.background import cancel_and_wait
from dalgu.broker.join import fetch_linked
from dalgu.broker.model import now_iso
from dalgu.broker.render import Representation, render_entity
from dalgu.errors import DalguError
from dalgu.ldcontext import ContextResolver
from dalgu.query.ast import TypeOr
from dalgu.store.base import (
    ChangeRecord,
    EntityQuery,
    EntityStore,
    RegistrationStore,
    SubscriptionStore,
)
from dalgu.store.outage import OutageWatch
from dalgu.subscriptions import matching
from dalgu.subscriptions.index import CompiledSubscription, SubscriptionIndex
from dalgu.subscriptions.model import status_of
from dalgu.subscriptions.payload import (
    change_payload,
    context_of,
    join_of,
    notification,
    representation,
)
from dalgu.subscriptions.sender import NotificationSender
from dalgu.subscriptions.service import NOTIFIER

log = logging.getLogger("dalgu.notifier")
BATCH = 500  # changes matched per store round trip
YIELD_EVERY = 8  # changes matched between turns given to the senders
#: notifications queued per commit: a change that many subscriptions match (a batch of 1,000
#: updates for 2,000 subscriptions is 250,000 notifications) is queued and sent in parts,
#: not built whole in memory before the first leaves (1.2 GB and 30 s before, outside test)
COMMIT_EVERY = 2000
TIMERS = 0.25  # seconds between looks at retries and periodic subscriptions when idle
# a polling notifier whose last looks found no change looks less often, up to this (seconds):
# 500 looks a second cost ~8% of the core it shares with the API, while it mostly finds
# nothing (no subscription: no change is recorded); it looks every `poll` again as soon as
# one finds a change, so a steady stream of changes is matched as fast as before
IDLE_POLL = 0.008


def next_poll(wait: float, poll: float, *, found: bool) -> float:
    """Seconds until the next look at a polled outbox: `poll` after a look that found changes,
    else twice the last wait, up to `IDLE_POLL` (never below `poll`)."""
    return poll if found else min(wait * 2, max(poll, IDLE_POLL))


class Notifier:
    def __init__(
        self,
        store: SubscriptionStore,
        resolver: ContextResolver,
        entities: EntityStore | None = None,
        *,
        poll: float | None = None,
        backlog: int = 100_000,
    ) -> None:
        """`poll`: seconds between looks at the outbox when nothing wakes the notifier (a
        process of its own on SQLite); None when the entity service's listener wakes it."""
        self.store = store
        self.entities = entities
        self.poll = poll
        self._periodic_due: dict[tuple[str, str], float] = {}
        self._periodic: list[dict[str, Any]] = []
        self._periodic_generation = -1
        self.resolver = resolver
        self._wake = asyncio.Event()
        self._compiled: dict[tuple[str, str, str], CompiledSubscription] = {}
        self._indexes: dict[str, SubscriptionIndex] = {}
        self._generation = -1
        self._last_sent: dict[tuple[str, str], float] = {}
        #: `backlog`: notifications kept waiting per subscription (`notification_backlog`)
        self.sender = NotificationSender(store, self.wake, backlog=backlog)
        self._runner: asyncio.Task[None] | None = None
        self._seen = 0  # changes read from the outbox so far
        #: called whenever the notifier is woken (a commit wrote to the outbox): other readers
        #: of the outbox in this process, such as the change feed's relay
        self.followers: list[Callable[[], None]] = []
        self._csource: Any = None  # the csource subscriptions, when the store has them
        self._csource_due: dict[tuple[str, str], float] = {}
        #: registrations that expire after this instant are announced (`noLongerMatching`)
        #: when they do; those that expired while no notifier ran are not
        self._expiries_from = now_iso()
        if isinstance(store, RegistrationStore):
            # imported here: dalgu.registrations builds on this package's modules
            from dalgu.registrations.subscriptions import CSourceSubscriptionService

            self._csource = CSourceSubscriptionService(store, store, resolver)

    def wake(self) -> None:
        self._wake.set()
        for follower in self.followers:
            follower()

    async def changed(self, tenant: str, changes: list[Any]) -> None:
        """EntityService listener: a commit happened, look at the outbox now."""
        self.wake()

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name="dalgu-notifier")

    async def run(self) -> None:
        """Notify until cancelled (a notifier process's main task)."""
        self.start()
        try:
            assert self._runner is not None
            await self._runner
        finally:
            await self.stop()

    async def stop(self) -> None:
        await cancel_and_wait(self._runner)
        self._runner = None
        await self.sender.close()

    async def _run(self) -> None:
        # its cursor first: until the notifier's first match commits one, another consumer of
        # the outbox (the change feed's relay) would forget the changes it has read past, the
        # notifier's among them (on a fresh database, the first writes after a subscription)
        await self.store.start_consumer(NOTIFIER)
        renewing = asyncio.create_task(self.sender.renew_leases(), name="dalgu-notifier-leases")
        try:
            await self._loop()
        finally:
            await cancel_and_wait(renewing)

    async def _loop(self) -> None:
        pushed = await self.store.listen(self.wake)
        polling = not pushed and self.poll is not None  # no wake-up: look every `poll`
        poll = TIMERS if pushed or self.poll is None else self.poll
        wait = poll
        timers = 0.0
        watch = OutageWatch(log, "notifier iteration")
        while True:
            woken = self._wake.is_set()
            self._wake.clear()
            seen = self._seen
            try:
                matched = await self.match_pending()
                now = time.monotonic()
                if woken or matched or now >= timers:
                    timers = now + TIMERS
                    await self._refresh()
                    await self.notify_periodic()
                    await self.notify_periodic_csource()
                    await self.notify_expired_registrations()
                    await self.sender.send_due()
                    await self.sender.trim_backlogs()
                watch.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # keep notifying whatever one bad batch did
                watch.failed(self.store, error)
                await asyncio.sleep(TIMERS)
            wait = next_poll(wait, poll, found=self._seen != seen) if polling else poll
            if not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)

    # --- matching -----------------------------------------------------------------------

    async def match_pending(self) -> int:
        """Match the outbox's new changes; returns how many notifications were queued."""
        total = 0
        while True:
            changes = await self.store.changes_after(NOTIFIER, BATCH)
            if not changes:
                return total
            self._seen += len(changes)
            await self._refresh()
            deliveries: list[tuple[str, str, bytes]] = []
            for n, change in enumerate(changes, start=1):
                deliveries.extend(await self._match(change))
                if len(deliveries) >= COMMIT_EVERY and n < len(changes):
                    # the cursor moves past the changes matched so far, with their
                    # notifications, atomically: a crash between parts loses none
                    taken = await self.store.commit_changes(NOTIFIER, change.seq, deliveries)
                    await self.sender.dispatch(taken)
                    total += len(deliveries)
                    deliveries = []
                    await asyncio.sleep(0)
                elif n % YIELD_EVERY == 0:
                    # the store's calls never suspend: without this, senders waiting for an
                    # answer would get the loop only once per batch of matches
                    await asyncio.sleep(0)
            taken = await self.store.commit_changes(NOTIFIER, changes[-1].seq, deliveries)
            await self.sender.dispatch(taken)
            total += len(deliveries)

    async def _refresh(self) -> None:
        """Compile subscriptions as soon as they change, not at the next matching change."""
        generation = await self.store.subscription_generation()
        if generation == self._generation:
            return
        self._indexes.clear()
        self._generation = generation
        docs, _ = await self.store.list_subscriptions(None, 1_000_000, 0)
        live = {(d.get("tenant", ""), d["id"], d.get("modifiedAt", "")) for d in docs}
        self._compiled = {k: v for k, v in self._compiled.items() if k in live}
        for tenant in sorted({d.get("tenant", "") for d in docs}):
            await self._index(tenant)

    async def _index(self, tenant: str) -> SubscriptionIndex:
        index = self._indexes.get(tenant)
        if index is None:
            index = self._indexes[tenant] = SubscriptionIndex(await self._subscriptions(tenant))
        return index

    async def _subscriptions(self, tenant: str) -> list[CompiledSubscription]:
        docs, _ = await self.store.list_subscriptions(tenant, 1_000_000, 0)
        origins = await self.store.subscription_origins(tenant)
        compiled = []
        for doc in docs:
            key = (tenant, doc["id"], doc.get("modifiedAt", ""))
            item = self._compiled.get(key)
            if item is None:
                try:
                    item = await self._compile(doc)
                except DalguError as error:
                    log.warning("subscription %s cannot be evaluated: %s", doc["id"], error)
                    continue
                self._compiled[key] = item
            item.doc = doc
            item.origin = origins.get(doc["id"], 0)
            compiled.append(item)
        return compiled

    async def _compile(self, doc: dict[str, Any]) -> CompiledSubscription:
        terms = await self.resolver.resolve(context_of(doc))
        output = None
        if "jsonldContext" in doc:
            output = await self.resolver.resolve(doc["jsonldContext"])
        return CompiledSubscription(doc, terms, output)

    async def _match(self, change: ChangeRecord) -> list[tuple[str, str, bytes]]:
        entity = change.after if change.after is not None else change.before
        if entity is None:
            return []
        trigger = matching.diff(change.before, change.after)
        out = []
        index = await self._index(change.tenant)
        rows: matching.RowIndex | None = None

        def entity_rows() -> matching.RowIndex:
            nonlocal rows
            if rows is None:
                rows = matching.row_index(entity)
            return rows

        candidates = index.candidates(
            entity.get("type", ()), trigger.touched, trigger.entity_deleted, entity_rows
        )
        views: dict[frozenset[str], matching.Trigger] = {}
        for sub in candidates:
            doc = sub.doc
            if change.seq <= sub.origin or status_of(doc) != "active" or "timeInterval" in doc:
                continue  # recorded before the subscription was created, or not to notify
            reason = matching.trigger_reason(doc, _in_view(change, trigger, doc, views))
            if reason is None or not matching.selects(doc, entity, sub.types):
                continue
            if not (
                matching.q_ok(sub.q, entity, entity_rows() if sub.q is not None else None)
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
            removed = matching.removed_shown(doc, _in_view(change, trigger, doc, views), reason)
            linked = None
            join = join_of(doc)
            if join is not None and change.after is not None and self.entities is not None:
                rep = representation(sub)
                linked = await fetch_linked(self.entities, change.tenant, [change.after], rep, join)
            payload = change_payload(sub, change, entity, reason, removed, linked)
            out.append((change.tenant, doc["id"], payload))
        return out

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
            sub = await self._compile(doc)
            selectors = doc.get("entities") or []
            query = EntityQuery(
                ids=tuple(s["id"] for s in selectors if "id" in s),
                types=TypeOr(tuple(sub.types)) if sub.types else None,
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
            queued.append((tenant, doc["id"], notification(doc["id"], data, "timeInterval")))
        if queued:
            await self.store.enqueue(queued)
        return len(queued)

    async def notify_expired_registrations(self) -> int:
        """`noLongerMatching` to csource subscriptions for registrations that expired since
        the last look (clause 5.11.7; an expired registration is invalid, clause 5.2.9)."""
        if self._csource is None:
            return 0
        until = now_iso()
        expired: int = await self._csource.notify_expired(self._expiries_from, until)
        self._expiries_from = until
        return expired

    async def notify_periodic_csource(self) -> int:
        """Csource subscriptions with timeInterval: the matching registrations, every
        interval (clause 5.11.7)."""
        if self._csource is None:
            return 0
        now = time.monotonic()

        def due(doc: dict[str, Any]) -> bool:
            key = (doc.get("tenant", ""), doc["id"])
            if now < self._csource_due.get(key, 0.0) or status_of(doc) != "active":
                return False
            self._csource_due[key] = now + float(doc["timeInterval"])
            return True

        queued: int = await self._csource.notify_periodic(due)
        return queued


def _in_view(
    change: ChangeRecord,
    trigger: matching.Trigger,
    doc: dict[str, Any],
    views: dict[frozenset[str], matching.Trigger],
) -> matching.Trigger:
    """What the change did to the view of the entity a subscription's `datasetId` makes
    (a change of another dataset's instance did nothing to it); `views`: those made."""
    datasets = matching.view_datasets(doc)
    if datasets is None:
        return trigger
    seen = views.get(datasets)
    if seen is None:
        seen = views[datasets] = matching.diff(
            matching.dataset_view(change.before, datasets),
            matching.dataset_view(change.after, datasets),
        )
        seen.view = True
    return seen
