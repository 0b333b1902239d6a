"""Context source registrations as a store keeps them (clauses 5.9, 5.10, 5.11)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ForwardingStatus:
    """The requests a registration's context source was sent (clause 5.2.9, Table 5.2.9-2)."""

    times_sent: int
    times_failed: int
    last_success: str | None
    last_failure: str | None


class RegistrationStore(ABC):
    """Context Source Registrations of each tenant, as documents in the stored form of
    `dalgu.registrations.model` (names expanded). Discovery reads a tenant's registrations
    and matches them in the service: a tenant has tens of them, not millions."""

    @abstractmethod
    async def put_registration(
        self, tenant: str, registration_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        """Store a registration; `create` fails with AlreadyExists when the id is taken."""

    @abstractmethod
    async def get_registration(
        self, tenant: str, registration_id: str
    ) -> dict[str, Any] | None: ...

    @abstractmethod
    async def registrations(self, tenant: str) -> list[dict[str, Any]]:
        """Every registration of the tenant, oldest first (then by id)."""

    @abstractmethod
    async def delete_registration(self, tenant: str, registration_id: str) -> bool: ...

    # what distributed operations did with each registration (Table 5.2.9-2)

    @abstractmethod
    async def record_forwarding(
        self, tenant: str, outcomes: Sequence[tuple[str, bool, str]]
    ) -> None:
        """Count requests sent to context sources: (registration id, succeeded, when)."""

    @abstractmethod
    async def forwarding_status(
        self, tenant: str, registration_ids: Sequence[str]
    ) -> dict[str, ForwardingStatus]:
        """What was recorded of the registrations that have been sent anything."""

    # context source registration subscriptions (clause 5.11): their notifications go
    # through the deliveries of `SubscriptionStore`, which also records their status

    @abstractmethod
    async def put_csource_subscription(
        self, tenant: str, subscription_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        """Store one; `create` fails with AlreadyExists when the id is taken."""

    @abstractmethod
    async def get_csource_subscription(
        self, tenant: str, subscription_id: str
    ) -> dict[str, Any] | None: ...

    @abstractmethod
    async def list_csource_subscriptions(
        self, tenant: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page (all tenants when `tenant` is None), oldest first, and the total count."""

    @abstractmethod
    async def delete_csource_subscription(self, tenant: str, subscription_id: str) -> bool:
        """Delete it and its pending notifications."""
