"""`dalgu status`: the store, its schema, its tenants and backlog, and the server, in one look.

Read without changing anything: the store through a read-only connection of its backend
(`store/sqlite/status.py`, `store/postgres/status.py`), never through `open()`, which
migrates; the server through its `GET /health`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from dalgu import __version__
from dalgu.settings import Settings
from dalgu.store.history import parse_time
from dalgu.store.status import ConsumerBacklog, StoreStatus, SubscriptionFlags
from dalgu.upkeep.server import ServerHealth, server_health

#: the outbox cursor the notifiers share (`dalgu.subscriptions.service.NOTIFIER`), and the
#: change feed's (`dalgu.feed.relay.CONSUMER`): named here, their modules cost a second to load
NOTIFIER = "notifier"
FEED = "feed"

#: exit statuses
OK, FAILED, SCHEMA_MISMATCH = 0, 1, 3

Schema = Literal["current", "behind", "ahead"]


@dataclass(frozen=True)
class TenantStatus:
    """One tenant: its entities by type, its subscriptions by status, and the changes of its
    entities no notifier has matched yet."""

    tenant: str
    types: dict[str, int]
    subscriptions: dict[str, int]  # active, paused, expired
    backlog: int
    oldest_unmatched_age: float | None  # seconds

    @property
    def entities(self) -> int:
        """Entities by type, summed: an entity of several types counts once per type."""
        return sum(self.types.values())


@dataclass(frozen=True)
class Status:
    store: StoreStatus
    tenants: list[TenantStatus]
    server: ServerHealth
    read_at: datetime

    @property
    def schema(self) -> Schema:
        if self.store.schema_version < self.store.expected_version:
            return "behind"
        if self.store.schema_version > self.store.expected_version:
            return "ahead"
        return "current"

    @property
    def exit_status(self) -> int:
        """1 when the server's health is `fail`, 3 when the schema is behind or ahead, else 0
        (a store that cannot be read never makes a `Status`: `StoreUnavailable`)."""
        if self.server.status == "fail":
            return FAILED
        return SCHEMA_MISMATCH if self.schema != "current" else OK

    def backlog(self, consumer: str) -> ConsumerBacklog | None:
        return next((b for b in self.store.backlogs if b.consumer == consumer), None)

    def age(self, at: str | None) -> float | None:
        """Seconds from `at` (the outbox's time of a change) to when this was read."""
        if at is None:
            return None
        return max(0.0, (self.read_at - parse_time(at)).total_seconds())

    def as_json(self) -> dict[str, Any]:
        """The status as one JSON document (`dalgu status --json`)."""
        store = self.store
        return {
            "dalgu": __version__,
            "store": {
                "kind": store.kind,
                "location": store.location,
                "sizes": store.sizes,
                "unknown": store.unknown,
            },
            "schema": {
                "state": self.schema,
                "version": store.schema_version,
                "expected": store.expected_version,
            },
            "tenants": [
                {
                    "tenant": t.tenant,
                    "entities": t.entities,
                    "types": t.types,
                    "subscriptions": t.subscriptions,
                    "backlog": t.backlog,
                    "oldestUnmatchedAge": _rounded(t.oldest_unmatched_age),
                }
                for t in self.tenants
            ],
            "backlog": {
                b.consumer: {
                    "changes": b.changes,
                    "capped": b.capped,
                    "oldestAge": _rounded(self.age(b.oldest_at)),
                }
                for b in store.backlogs
            },
            "deliveriesWaiting": store.deliveries,
            "server": {
                "url": self.server.url,
                "status": self.server.status,
                "httpStatus": self.server.http_status,
                "checks": self.server.checks,
                "problem": self.server.problem,
            },
            "readAt": self.read_at.isoformat(),
            "exitStatus": self.exit_status,
        }


async def read_status(settings: Settings) -> Status:
    """The status of the store and server `settings` name; `StoreUnavailable` when the store
    cannot be read."""
    consumers = [NOTIFIER] + ([FEED] if settings.change_feed != "off" else [])
    store, server = await asyncio.gather(_store(settings, consumers), server_health(settings))
    read_at = datetime.now(UTC)
    status = Status(store, [], server, read_at)
    notifier = status.backlog(NOTIFIER)
    unmatched = notifier.tenants if notifier is not None else {}
    names = sorted({*store.entities, *(s.tenant for s in store.subscriptions), *unmatched})
    tenants = []
    for name in names:
        backlog = unmatched.get(name)
        tenants.append(
            TenantStatus(
                tenant=name,
                types=dict(sorted(store.entities.get(name, {}).items())),
                subscriptions=_by_status([s for s in store.subscriptions if s.tenant == name]),
                backlog=backlog.changes if backlog else 0,
                oldest_unmatched_age=status.age(backlog.oldest_at) if backlog else None,
            )
        )
    return Status(store, tenants, server, read_at)


async def _store(settings: Settings, consumers: list[str]) -> StoreStatus:
    if settings.store == "postgres":
        from dalgu.store.postgres import status as postgres

        return await postgres.read_status(settings.postgres_dsn, consumers)
    from dalgu.store.sqlite import status as sqlite

    return await asyncio.to_thread(sqlite.read_status, settings.sqlite_path, consumers)


def _by_status(flags: list[SubscriptionFlags]) -> dict[str, int]:
    from dalgu.subscriptions.model import status_of

    counts = {"active": 0, "paused": 0, "expired": 0}
    for flag in flags:
        doc: dict[str, Any] = {"isActive": flag.is_active}
        if flag.expires_at is not None:
            doc["expiresAt"] = flag.expires_at
        counts[status_of(doc)] += 1
    return counts


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)
