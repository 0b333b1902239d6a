"""Deliver queued notifications at least once: one queue per subscription, in order.

The sender takes due deliveries (leased to it, so several notifier processes never send the
same one) into one queue per subscription, each drained by its own task in order: per-entity
order holds, and a slow or dead endpoint delays only its own subscription. Failures are
retried with exponential backoff; later notifications of that subscription wait for the retry,
and those queued behind one given up go with it.

A slow endpoint: the sender renews the leases of what it holds (a lease that ran out would let
the next take queue them again), holds at most `HOLD` of one subscription (the rest wait in the
store), and cuts such a subscription's backlog to the newest `backlog` every `TRIM_EVERY`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from dalgu.broker.model import now_iso
from dalgu.store.base import Delivery, RegistrationStore, SubscriptionStore
from dalgu.subscriptions.endpoints import (
    DeliveryFailed,
    HttpSender,
    MqttSender,
    answer_within,
    conveyable,
    receiver_info_problems,
)
from dalgu.subscriptions.model import status_of
from dalgu.subscriptions.payload import lane_of, wire

log = logging.getLogger("dalgu.notifier")
MAX_ATTEMPTS = 12
TAKE = 500  # deliveries taken per store round trip
HTTP_LANES = 8  # HTTP connections one subscription's notifications use at once
Failure = tuple[Delivery, DeliveryFailed]  # a delivery whose sending failed, and why
# deliveries of one subscription a sender holds (queued or in flight); the rest wait in the
# store, unleased, until these are sent: a slow endpoint's backlog is not kept in memory
HOLD = 1_000
# deliveries of all subscriptions a sender holds: a write that thousands of subscriptions match
# waits in the store past this, not in memory (250,000 held: ~1 GB, an outside test)
HOLD_ALL = 20_000
# a subscription of which the sender holds this many is behind its updates, or was in a burst:
# its backlog is trimmed (cheap when there is little to cut). PostgreSQL's take brings a run of
# at most `TAKE` and nothing more while it is held, so `HOLD` alone would never be reached there
BEHIND = 100
TRIM_EVERY = 10.0  # seconds between trims of one subscription's backlog


def retry_delay(attempts: int) -> float:
    """Seconds between a delivery's failed attempt number `attempts` and the next."""
    return min(2.0**attempts * 0.25, 300.0)


class NotificationSender:
    def __init__(
        self, store: SubscriptionStore, wake: Callable[[], None], *, backlog: int = 100_000
    ) -> None:
        """`wake`: called when a queue is drained (the notifier then takes what is due);
        `backlog`: notifications kept waiting per subscription (0: all)."""
        self.store = store
        self.wake = wake
        self.backlog = backlog
        self._queues: dict[tuple[str, str], list[Delivery]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._http = HttpSender()
        self._mqtt = MqttSender()
        #: deliveries taken and not yet sent or given back, by id: their leases are renewed
        #: while they wait, and a take that finds one of them again does not queue it twice
        self._held: dict[int, Delivery] = {}
        self._holding: Counter[tuple[str, str]] = Counter()  # held, by subscription
        #: the subscriptions held `BEHIND` or more of, and when to trim each next
        self._backlogged: dict[tuple[str, str], float] = {}
        #: subscriptions whose left-out `receiverInfo` entries were logged, and for which
        #: entries: logged once, not per notification
        self._left_out: dict[tuple[str, str], object] = {}

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.close()
        await self._mqtt.close()

    async def send_due(self) -> None:
        """Take due deliveries into their subscription's queue; each queue has one task.
        No more than `HOLD_ALL` held: what it would give back at once is left in the store
        (taking and giving back the same rows, the loop never let the senders run)."""
        while True:
            room = min(TAKE, HOLD_ALL - len(self._held))
            if room <= 0:
                return
            due = await self.store.due_deliveries(time.time(), room)
            await self.dispatch(due)
            if len(due) < room:
                return

    async def renew_leases(self) -> None:
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

    async def dispatch(self, deliveries: list[Delivery]) -> None:
        """Queue taken deliveries to their subscription's sender; past `HOLD` of one
        subscription, or `HOLD_ALL` of all, give them back to wait in the store behind the
        held ones."""
        excess: list[Delivery] = []
        for delivery in deliveries:
            if delivery.id in self._held:  # taken again after its lease ran out: queued already
                continue
            key = (delivery.tenant, delivery.subscription_id)
            if self._holding[key] >= HOLD:
                excess.append(delivery)
                self._backlogged.setdefault(key, 0.0)
                continue
            if len(self._held) >= HOLD_ALL:  # taken again from the store as these go out
                excess.append(delivery)
                continue
            self._held[delivery.id] = delivery
            self._holding[key] += 1
            if self._holding[key] >= BEHIND:
                self._backlogged.setdefault(key, 0.0)
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = []
                task = asyncio.create_task(self._drain(key, queue))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            queue.append(delivery)
        if excess:
            await self.store.release_deliveries(excess)

    async def trim_backlogs(self) -> None:
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
            # no longer this queue's task from here: what is queued meanwhile starts another
            self._queues.pop(key, None)
            left = queue[:]
            del queue[:]
            for delivery in left:
                self._let_go(delivery)
            if left:  # given back (else their leases would be renewed with none to send them)
                with contextlib.suppress(Exception):
                    await self.store.release_deliveries(left)
        finally:
            if self._queues.get(key) is queue:
                del self._queues[key]
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
        if status_of(doc) != "active":
            await self._drop_inactive(key, doc, batch, queue)
            return
        endpoint = self._conveyable(key, doc["notification"]["endpoint"])
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

    async def _drop_inactive(
        self,
        key: tuple[str, str],
        doc: dict[str, Any],
        batch: list[Delivery],
        queue: list[Delivery],
    ) -> None:
        """Drop what is queued for a paused or expired subscription: a notification is sent
        only while its subscription is active (clause 5.8.6), and one queued before the pause
        or the expiry (waiting for a retry, most often) is not kept for a resumption either:
        the changes made while it was not active are never notified, so a subscriber that
        resumes one re-reads the entities anyway. Taken off `timesSent`, which counted them
        when they were taken, and `lastNotification` set back to the last attempt."""
        rest = batch + queue
        for delivery in queue:  # the batch's are let go by the caller
            self._let_go(delivery)
        del queue[:]
        status: dict[str, Any] = {"timesSent": -len(rest)}
        attempted = doc.get("status", {})
        last = max(attempted.get("lastSuccess", ""), attempted.get("lastFailure", ""))
        if last:
            status["lastNotification"] = last
        await self.store.complete_deliveries(rest, status)
        dropped = len(rest) + await self.store.abandon_deliveries(*key)
        log.info(
            "subscription %s is %s: %d notifications queued before are dropped",
            key[1],
            status_of(doc),
            dropped,
        )

    def _conveyable(self, key: tuple[str, str], endpoint: dict[str, Any]) -> dict[str, Any]:
        """The endpoint without the `receiverInfo` entries that cannot be conveyed as given
        (stored before Dalgu refused them at creation): a header that would frame the
        message, break a line or be altered is never written."""
        kept = conveyable(endpoint)
        if kept is not endpoint and self._left_out.get(key) != endpoint.get("receiverInfo"):
            self._left_out[key] = endpoint.get("receiverInfo")
            log.warning(
                "subscription %s: receiverInfo entries left out of its notifications: %s",
                key[1],
                "; ".join(receiver_info_problems(endpoint)),
            )
        return kept

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
                await self._http.send(uri, *wire(doc, endpoint, delivery), answer_within(endpoint))
            except DeliveryFailed as failure:
                return lane[:n], lane[n + 1 :], [(delivery, failure)]
        return lane, [], []

    async def _failed(
        self, endpoint: dict[str, Any], delivery: Delivery, failure: DeliveryFailed
    ) -> None:
        now = now_iso()
        attempts = delivery.attempts + 1
        give_up = attempts >= MAX_ATTEMPTS
        # the endpoint's cooldown (milliseconds, clause 5.2.15): no attempt before it is over
        cooldown = float(endpoint.get("cooldown", 0)) / 1000
        retry_at = None if give_up else time.time() + max(retry_delay(attempts), cooldown)
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
