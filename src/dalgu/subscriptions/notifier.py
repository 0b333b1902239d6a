"""Turn committed changes into notifications and deliver them, at least once.

The matcher reads the durable change outbox past its cursor in batches, matches each change
against the tenant's subscriptions (indexed by entity type and watched attribute), and queues
rendered notifications; queueing and advancing the cursor are one transaction. The sender
takes due deliveries (leased to it, so several notifier processes never send the same one)
into one queue per subscription, each drained by its own task in order: per-entity order
holds, and a slow or dead endpoint delays only its own subscription. Failures are retried
with exponential backoff; later notifications of that subscription wait for the retry.

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
from collections import Counter
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
    Delivery,
    EntityQuery,
    EntityStore,
    RegistrationStore,
    SubscriptionStore,
)
from dalgu.store.outage import OutageWatch
from dalgu.subscriptions import matching
from dalgu.subscriptions.endpoints import DeliveryFailed, HttpSender, MqttSender
from dalgu.subscriptions.index import CompiledSubscription, SubscriptionIndex
from dalgu.subscriptions.model import status_of
from dalgu.subscriptions.payload import (
    change_payload,
    context_of,
    join_of,
    lane_of,
    notification,
    representation,
    wire,
)
from dalgu.subscriptions.service import NOTIFIER

log = logging.getLogger("dalgu.notifier")
MAX_ATTEMPTS = 12
BATCH = 500  # changes matched, and deliveries taken, per store round trip
HTTP_LANES = 8  # HTTP connections one subscription's notifications use at once
Failure = tuple[Delivery, DeliveryFailed]  # a delivery whose sending failed, and why
YIELD_EVERY = 8  # changes matched between turns given to the senders
# deliveries of one subscription a notifier holds (queued or in flight); the rest wait in the
# store, unleased, until these are sent: a slow endpoint's backlog is not kept in memory
HOLD = 1_000
TRIM_EVERY = 10.0  # seconds between trims of one subscription's backlog
TIMERS = 0.25  # seconds between looks at retries and periodic subscriptions when idle
# a polling notifier whose last looks found no change looks less often, up to this (seconds):
# 500 looks a second cost ~8% of the core it shares with the API, while it mostly finds
# nothing (no subscription: no change is recorded); it looks every `poll` again as soon as
# one finds a change, so a steady stream of changes is matched as fast as before
IDLE_POLL = 0.008


def retry_delay(attempts: int) -> float:
    """Seconds between a delivery's failed attempt number `attempts` and the next."""
    return min(2.0**attempts * 0.25, 300.0)


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
        self._queues: dict[tuple[str, str], list[Delivery]] = {}
        #: deliveries taken and not yet sent or given back, by id: their leases are renewed
        #: while they wait, and a take that finds one of them again does not queue it twice
        self._held: dict[int, Delivery] = {}
        self._holding: Counter[tuple[str, str]] = Counter()  # held, by subscription
        #: notifications kept waiting per subscription (`Settings.notification_backlog`; 0:
        #: all); the subscriptions with more waiting than held, and when to trim each next
        self.backlog = backlog
        self._backlogged: dict[tuple[str, str], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._http = HttpSender()
        self._mqtt = MqttSender()
        self._runner: asyncio.Task[None] | None = None
        self._seen = 0  # changes read from the outbox so far
        #: called whenever the notifier is woken (a commit wrote to the outbox): other readers
        #: of the outbox in this process, such as the change feed's relay
        self.followers: list[Callable[[], None]] = []
        self._csource: Any = None  # the csource subscriptions, when the store has them
        self._csource_due: dict[tuple[str, str], float] = {}
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
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.close()
        await self._mqtt.close()

    async def _run(self) -> None:
        # its cursor first: until the notifier's first match commits one, another consumer of
        # the outbox (the change feed's relay) would forget the changes it has read past, the
        # notifier's among them (on a fresh database, the first writes after a subscription)
        await self.store.start_consumer(NOTIFIER)
        renewing = asyncio.create_task(self._renew_leases(), name="dalgu-notifier-leases")
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
                    await self.send_due()
                    await self._trim_backlogs()
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
                if n % YIELD_EVERY == 0:
                    # the store's calls never suspend: without this, senders waiting for an
                    # answer would get the loop only once per batch of matches
                    await asyncio.sleep(0)
            taken = await self.store.commit_changes(NOTIFIER, changes[-1].seq, deliveries)
            await self._dispatch(taken)
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
        for sub in candidates:
            doc = sub.doc
            if change.seq <= sub.origin or status_of(doc) != "active" or "timeInterval" in doc:
                continue  # recorded before the subscription was created, or not to notify
            reason = matching.trigger_reason(doc, trigger)
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
            removed = matching.removed_shown(doc, trigger, reason)
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

    # --- sending ------------------------------------------------------------------------

    async def send_due(self) -> None:
        """Take due deliveries into their subscription's queue; each queue has one task."""
        while True:
            due = await self.store.due_deliveries(time.time(), BATCH)
            await self._dispatch(due)
            if len(due) < BATCH:
                return

    async def _renew_leases(self) -> None:
        """Keep the deliveries this notifier holds leased while they wait for a slow endpoint:
        a lease that ran out would let the next take queue them again (sent twice, and out of
        order). Renewed at a third of the lease, so a missed round or two costs nothing."""
        while True:
            await asyncio.sleep(self.store.lease / 3)
            held = list(self._held.values())
            if not held:
                continue
            try:
                await self.store.renew_leases(held)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the store is away: the next round tries again
                log.warning("renewing the leases of %d notifications failed: %s", len(held), error)

    async def _dispatch(self, deliveries: list[Delivery]) -> None:
        """Queue taken deliveries to their subscription's sender; past `HOLD` of one
        subscription, give them back to wait in the store behind the held ones."""
        excess: list[Delivery] = []
        for delivery in deliveries:
            if delivery.id in self._held:  # taken again after its lease ran out: queued already
                continue
            key = (delivery.tenant, delivery.subscription_id)
            if self._holding[key] >= HOLD:
                excess.append(delivery)
                self._backlogged.setdefault(key, 0.0)
                continue
            self._held[delivery.id] = delivery
            self._holding[key] += 1
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = []
                task = asyncio.create_task(self._drain(key, queue))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            queue.append(delivery)
        if excess:
            await self.store.release_deliveries(excess)

    async def _trim_backlogs(self) -> None:
        """Keep at most `backlog` notifications waiting for a subscription whose endpoint is
        slower than its updates: the oldest not yet tried go (Orion-LD drops notifications
        past its queue's size too); without it the store would grow without end."""
        if not self.backlog or not self._backlogged:
            return
        now = time.monotonic()
        for key, due in list(self._backlogged.items()):
            if now < due:
                continue
            self._backlogged[key] = now + TRIM_EVERY
            dropped = await self.store.trim_deliveries(*key, self.backlog)
            if dropped:
                log.warning(
                    "subscription %s: %d notifications dropped, its endpoint is slower than its "
                    "updates (the newest %d are kept)",
                    key[1],
                    dropped,
                    self.backlog,
                )

    def _let_go(self, delivery: Delivery) -> None:
        """A held delivery was sent, given back or given up: no longer this notifier's."""
        if self._held.pop(delivery.id, None) is not None:
            key = (delivery.tenant, delivery.subscription_id)
            self._holding[key] -= 1
            if self._holding[key] <= 0:
                del self._holding[key]
                self._backlogged.pop(key, None)  # the next take says if it is still behind

    async def _drain(self, key: tuple[str, str], queue: list[Delivery]) -> None:
        """Send one subscription's queued notifications in order, recording each batch sent
        in one commit; on a failure give the rest back to wait for the retry."""
        try:
            while queue:
                batch = queue[:]
                del queue[:]
                try:
                    await self._send_batch(key, batch, queue)
                finally:
                    for delivery in batch:
                        self._let_go(delivery)
        except Exception:
            log.exception("sending the notifications of %s failed", key[1])
            if queue:
                with contextlib.suppress(Exception):
                    await self.store.release_deliveries(queue)
                for delivery in queue:
                    self._let_go(delivery)
        finally:
            self._queues.pop(key, None)
            self.wake()

    async def _send_batch(
        self, key: tuple[str, str], batch: list[Delivery], queue: list[Delivery]
    ) -> None:
        """Send a batch of one subscription's queue and record it; on a failure give back
        what is queued behind it (`queue` is emptied) to wait for the retry."""
        doc = await self._subscription(*key)
        if doc is None:
            await self.store.complete_deliveries(batch, {})
            return
        endpoint = doc["notification"]["endpoint"]
        sent: list[Delivery] = []
        unsent: list[Delivery] = []
        failed: list[Failure] = []
        try:
            sent, unsent, failed = await self._send(doc, endpoint, batch)
        finally:
            if sent:  # counted as sent when they were leased
                await self.store.complete_deliveries(sent, {"lastSuccess": now_iso()})
        if failed:  # it waits for a retry, and what is queued behind it too
            rest = unsent + queue
            del queue[:]
            for delivery in rest:
                self._let_go(delivery)
            # given back (and taken off timesSent) before the failure is recorded, so
            # that the status never shows a failure with them still counted as sent
            if rest:
                await self.store.release_deliveries(rest)
            for delivery, failure in failed:
                await self._failed(endpoint, delivery, failure)

    async def _subscription(self, tenant: str, subscription_id: str) -> dict[str, Any] | None:
        """The subscription a delivery is for: an entity subscription or, sharing the
        deliveries, a context source registration subscription (clause 5.11)."""
        doc = await self.store.get_subscription(tenant, subscription_id)
        if doc is None and isinstance(self.store, RegistrationStore):
            doc = await self.store.get_csource_subscription(tenant, subscription_id)
        return doc

    async def _send(
        self, doc: dict[str, Any], endpoint: dict[str, Any], batch: list[Delivery]
    ) -> tuple[list[Delivery], list[Delivery], list[Failure]]:
        """Send a subscription's deliveries, each entity's in order: (sent, not sent, failed).
        A delivery that fails is in neither of the first two (the caller reschedules it or
        gives it up); the ones of its entity after it are not sent. MQTT publishes are
        pipelined on the client's one connection, which keeps their order; HTTP POSTs go out
        on up to `HTTP_LANES` connections at once, the deliveries of one entity always on the
        same one."""
        uri = endpoint["uri"]
        if uri.startswith(("mqtt://", "mqtts://")):
            info = endpoint.get("notifierInfo")
            results = await asyncio.gather(
                *(self._mqtt.send(uri, *wire(doc, endpoint, d), info) for d in batch),
                return_exceptions=True,
            )
            for n, result in enumerate(results):
                if isinstance(result, DeliveryFailed):
                    return batch[:n], batch[n + 1 :], [(batch[n], result)]
                if isinstance(result, BaseException):
                    raise result
            return batch, [], []
        lanes: dict[int, list[Delivery]] = {}
        for delivery in batch:
            lanes.setdefault(hash(lane_of(delivery)) % HTTP_LANES, []).append(delivery)
        outcomes = await asyncio.gather(
            *(self._send_lane(uri, doc, endpoint, lane) for lane in lanes.values())
        )
        sent = sorted((d for done, _, _ in outcomes for d in done), key=lambda d: d.id)
        unsent = sorted((d for _, left, _ in outcomes for d in left), key=lambda d: d.id)
        return sent, unsent, [f for _, _, failed in outcomes for f in failed]

    async def _send_lane(
        self, uri: str, doc: dict[str, Any], endpoint: dict[str, Any], lane: list[Delivery]
    ) -> tuple[list[Delivery], list[Delivery], list[Failure]]:
        for n, delivery in enumerate(lane):
            try:
                await self._http.send(uri, *wire(doc, endpoint, delivery))
            except DeliveryFailed as failure:
                return lane[:n], lane[n + 1 :], [(delivery, failure)]
        return lane, [], []

    async def _failed(
        self, endpoint: dict[str, Any], delivery: Delivery, failure: DeliveryFailed
    ) -> None:
        now = now_iso()
        attempts = delivery.attempts + 1
        give_up = attempts >= MAX_ATTEMPTS
        retry_at = None if give_up else time.time() + retry_delay(attempts)
        log.info("notification to %s failed (%s), attempt %d", endpoint["uri"], failure, attempts)
        await self.store.finish_delivery(
            delivery,
            ok=False,
            retry_at=retry_at,
            status={"timesFailed": 1, "lastFailure": now},
        )
        if give_up:
            # the endpoint has failed every attempt for as long as they took (~13.5 min), and
            # the notifications queued behind this one were queued since: none could have
            # gone out. They are dropped with it, and the subscription goes on with what
            # comes next, so that a subscriber gone for good keeps at most that span of
            # notifications (it kept every one, without end, each given 13.5 min in turn)
            window = sum(retry_delay(a) for a in range(1, MAX_ATTEMPTS))
            dropped = await self.store.abandon_deliveries(delivery.tenant, delivery.subscription_id)
            log.warning(
                "notification to %s abandoned after %d attempts over %.0f s, with the %d "
                "queued behind it",
                endpoint["uri"],
                attempts,
                window,
                dropped,
            )
