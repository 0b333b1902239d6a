"""What a store says about itself to an operator (`dalgu status`), read without changing it.

Each backend reads it its own way (`sqlite/status.py`, `postgres/status.py`): never through
`open()`, which migrates. Every read is of a small table or a bounded range of an index, so
it stays fast on a large store: entities are the counts the writes keep per type (what
`/types` answers), the backlog is counted up to `BACKLOG_COUNTED` changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import orjson

#: changes past a consumer's cursor counted at most (a notifier down for days leaves millions)
BACKLOG_COUNTED = 100_000


@dataclass(frozen=True)
class Backlog:
    """The changes of one tenant that a consumer of the outbox (the notifiers, the change
    feed) has not read yet."""

    changes: int
    oldest_at: str | None  # when the oldest was recorded (the outbox's `at`)


@dataclass(frozen=True)
class SubscriptionFlags:
    """What says whether a subscription is active, paused or expired."""

    tenant: str
    is_active: bool
    expires_at: str | None


@dataclass(frozen=True)
class ConsumerBacklog:
    """A consumer's unread changes by tenant; `capped` when there were more than
    `BACKLOG_COUNTED` (the counts are then those of the oldest ones)."""

    consumer: str
    tenants: dict[str, Backlog]
    capped: bool = False

    @property
    def changes(self) -> int:
        return sum(b.changes for b in self.tenants.values())

    @property
    def oldest_at(self) -> str | None:
        times = [b.oldest_at for b in self.tenants.values() if b.oldest_at is not None]
        return min(times) if times else None


@dataclass(frozen=True)
class StoreStatus:
    """A store as read by `dalgu status`.

    `entities` holds, per tenant, the entities of each type (an entity of several types is
    counted under each). A store whose schema is behind may lack the tables some of these
    come from: `unknown` names what could not be read, and its fields are left empty.
    """

    kind: Literal["sqlite", "postgres"]
    location: str  # the SQLite file, or the PostgreSQL DSN with its password masked
    sizes: dict[str, int]  # bytes: {"database": …, "wal": …} (SQLite) or {"database": …}
    schema_version: int
    expected_version: int
    entities: dict[str, dict[str, int]] = field(default_factory=dict)
    subscriptions: list[SubscriptionFlags] = field(default_factory=list)
    backlogs: list[ConsumerBacklog] = field(default_factory=list)
    deliveries: int = 0  # notifications waiting to be sent (at most `BACKLOG_COUNTED`)
    unknown: list[str] = field(default_factory=list)


def flags_of(tenant: str, doc: bytes) -> SubscriptionFlags:
    """The flags of a subscription's stored document."""
    body = orjson.loads(doc)
    expires = body.get("expiresAt")
    active = body.get("isActive", True)
    return SubscriptionFlags(
        tenant, active is not False, expires if isinstance(expires, str) else None
    )
