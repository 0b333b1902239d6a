"""The subscription service: create, read, update, delete (clauses 5.8.1–5.8.5)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dalgu.errors import ResourceNotFound
from dalgu.store.base import SubscriptionStore
from dalgu.store.history import parse_time
from dalgu.subscriptions.model import merge_subscription

#: the outbox cursor every notifier of a store shares
NOTIFIER = "notifier"


class SubscriptionService:
    def __init__(self, store: SubscriptionStore) -> None:
        self.store = store

    async def notification_lag(self, consumer: str = NOTIFIER) -> float:
        """Seconds since the oldest change no notifier (or `consumer`, such as the change
        feed) has read yet was recorded; 0 when every change is read."""
        at = await self.store.oldest_unmatched(consumer)
        if at is None:
            return 0.0
        return max(0.0, (datetime.now(UTC) - parse_time(at)).total_seconds())

    async def create(self, tenant: str, doc: dict[str, Any]) -> str:
        doc = {**doc, "tenant": tenant}
        await self.store.put_subscription(tenant, doc["id"], doc, create=True)
        return str(doc["id"])

    async def retrieve(self, tenant: str, subscription_id: str) -> dict[str, Any]:
        doc = await self.store.get_subscription(tenant, subscription_id)
        if doc is None:
            raise ResourceNotFound(f"subscription {subscription_id} does not exist")
        return doc

    async def query(self, tenant: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        return await self.store.list_subscriptions(tenant, limit, offset)

    async def update(self, tenant: str, subscription_id: str, fragment: dict[str, Any]) -> None:
        current = await self.retrieve(tenant, subscription_id)
        merged = merge_subscription(current, fragment)
        await self.store.put_subscription(tenant, subscription_id, merged, create=False)

    async def delete(self, tenant: str, subscription_id: str) -> None:
        if not await self.store.delete_subscription(tenant, subscription_id):
            raise ResourceNotFound(f"subscription {subscription_id} does not exist")
