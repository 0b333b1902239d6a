"""Sandboxes: a firm's own tenant in the testbed, with quotas, that can be reset or deleted.

A sandbox named `firm1` is the NGSI-LD tenant `firm1` (the `fiware-service` of provisioning).
Registering it issues its first API key (`dalgu.testbed.keys`). Its quotas bound what its
devices may do: messages per second (a token bucket per sandbox, burst of one second's worth),
provisioned devices, and storage (entities plus temporal attribute instances). A message over
the rate or the storage, or a device over the count, is refused with QuotaExceeded (HTTP 429,
CoAP 4.29, the MQTT error topic), counted with the device's other refusals, and nothing else
is affected. A sandbox is made only on a name that is no tenant yet (nor holds data, config
groups or devices), so what its reset or deletion erases is the sandbox's own. Resetting a
sandbox removes its entities, their temporal history, subscriptions,
config groups, devices, queued commands and reports; deleting it also removes the sandbox and
its keys.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dalgu.broker.model import now_iso
from dalgu.broker.service import EntityService
from dalgu.errors import AlreadyExists, BadRequestData, QuotaExceeded, ResourceNotFound
from dalgu.store.base import DeviceRegistry, EntityQuery, SandboxRegistry, SubscriptionStore
from dalgu.testbed.keys import IssuedKey, SandboxKeys


class Quotas(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages_per_second: float | None = Field(None, gt=0)
    devices: int | None = Field(None, ge=0)
    storage: int | None = Field(None, ge=0)  # entities plus temporal attribute instances


class Sandbox(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_]{1,50}$")
    description: str = ""
    quotas: Quotas = Field(default_factory=Quotas)
    createdAt: str | None = None


@dataclass
class _Bucket:
    rate: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class SandboxService:
    """Keeps sandboxes and enforces their quotas for the device service (its `admission`)."""

    def __init__(
        self,
        registry: SandboxRegistry,
        entities: EntityService,
        devices: DeviceRegistry,
        subscriptions: SubscriptionStore | None = None,
    ) -> None:
        self.registry = registry
        self.entities = entities
        self.subscriptions = subscriptions
        self.devices = devices
        self._quotas: dict[str, Quotas | None] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._usage: dict[str, _Usage] = {}
        self.keys = SandboxKeys(registry, devices)

    async def create(self, body: Any) -> tuple[Sandbox, IssuedKey]:
        """Register a sandbox; its first API key comes back (and is never shown again)."""
        sandbox = _validated(body)
        await self._refuse_occupied(sandbox.name)
        sandbox.createdAt = now_iso()
        await self.registry.put_sandbox(sandbox.name, sandbox.model_dump(), create=True)
        self._forget(sandbox.name)
        return sandbox, await self.keys.issue(sandbox.name)

    async def _refuse_occupied(self, name: str) -> None:
        """A sandbox is a tenant of its own: a name that is already a tenant holding
        entities, history, subscriptions, config groups or devices is refused, since the
        sandbox's keys would lock its devices out and a reset or delete would erase its data."""
        if await self.registry.sandbox(name) is not None:
            raise AlreadyExists(f"sandbox {name!r} already exists")
        held = []
        if await self.registry.stored_items(name):
            held.append("entities or their history")
        if self.subscriptions is not None:
            _, count = await self.subscriptions.list_subscriptions(name, 1, 0)
            if count:
                held.append("subscriptions")
        if await self.devices.groups(name, None):
            held.append("config groups")
        if (await self.devices.devices(name, None, 0, 0))[1]:
            held.append("devices")
        if held:
            raise AlreadyExists(
                f"{name!r} is already a tenant holding {', '.join(held)}: a sandbox needs a "
                "tenant of its own, choose another name"
            )

    async def get(self, name: str) -> Sandbox:
        doc = await self.registry.sandbox(name)
        if doc is None:
            raise ResourceNotFound(f"no sandbox {name!r}")
        return Sandbox.model_validate(doc)

    async def list(self) -> list[Sandbox]:
        return [Sandbox.model_validate(d) for d in await self.registry.sandboxes()]

    async def update(self, name: str, fields: Any) -> Sandbox:
        current = await self.get(name)
        if not isinstance(fields, dict) or ("name" in fields and fields["name"] != name):
            raise BadRequestData("a sandbox's fields are changed by a JSON object; not its name")
        merged = {**current.model_dump(), **fields}
        if isinstance(fields.get("quotas"), dict):  # a merge (RFC 7396): a null removes one
            merged["quotas"] = {**current.quotas.model_dump(), **fields["quotas"]}
        changed = _validated(merged)
        await self.registry.put_sandbox(name, changed.model_dump(), create=False)
        self._forget(name)
        return changed

    async def reset(self, name: str) -> None:
        """Remove everything of the sandbox but the sandbox itself."""
        await self.get(name)
        await self.entities.purge(name, EntityQuery(limit=0))
        if self.subscriptions is not None:
            docs, _ = await self.subscriptions.list_subscriptions(name, 100_000, 0)
            for doc in docs:
                await self.subscriptions.delete_subscription(name, doc["id"])
        await self.registry.wipe_testbed(name)
        self._buckets.pop(name, None)
        self._usage.pop(name, None)

    async def delete(self, name: str) -> None:
        await self.reset(name)
        await self.keys.forget(name)
        await self.registry.delete_sandbox(name)
        self._forget(name)

    # --- admission: what the device service asks before storing --------------------------------

    async def admit_message(self, tenant: str, device_id: str) -> None:
        quotas = await self._quotas_of(tenant)
        if quotas is None:
            return
        if quotas.storage is not None:
            await self._admit_storage(tenant, quotas.storage, device_id)
        if quotas.messages_per_second is None:
            return
        bucket = self._buckets.get(tenant)
        now = time.monotonic()
        if bucket is None or bucket.rate != quotas.messages_per_second:
            rate = quotas.messages_per_second
            bucket = self._buckets[tenant] = _Bucket(rate, max(rate, 1.0), now)
        if not bucket.take(now):
            raise QuotaExceeded(
                f"sandbox {tenant!r} allows {quotas.messages_per_second:g} messages/s; "
                f"the message from {device_id!r} was refused"
            )

    async def admit_apikey(self, tenant: str, apikey: str) -> None:
        """Provisioning a config group or device with `apikey` in the tenant."""
        await self.keys.refuse_foreign(tenant, apikey)

    async def is_secret(self, apikey: str) -> bool:
        """A sandbox's key (active or revoked) is hidden from provisioning listings."""
        return await self.keys.issued(apikey)

    async def admit_devices(
        self, tenant: str, adding: int, provisioned: Callable[[], Awaitable[int]]
    ) -> None:
        quotas = await self._quotas_of(tenant)
        if quotas is None or quotas.devices is None:
            return  # no quota: the devices are not even counted
        count = await provisioned()
        if count + adding > quotas.devices:
            raise QuotaExceeded(
                f"sandbox {tenant!r} allows {quotas.devices} devices; {count} are provisioned"
            )

    async def _admit_storage(self, tenant: str, quota: int, device_id: str) -> None:
        """Refuse a message once the sandbox stores `quota` items. Counting is a query, so the
        count is refreshed at most every USAGE_TTL seconds, and the messages admitted since
        count as one item each (a message adds at least one instance)."""
        now = time.monotonic()
        usage = self._usage.get(tenant)
        if usage is None or usage.at + USAGE_TTL < now or usage.items + usage.since >= quota:
            usage = self._usage[tenant] = _Usage(await self.registry.stored_items(tenant), 0, now)
        if usage.items + usage.since >= quota:
            raise QuotaExceeded(
                f"sandbox {tenant!r} stores {usage.items} of its {quota} entities and attribute "
                f"instances; the message from {device_id!r} was refused (reset the sandbox or "
                "raise its storage quota)"
            )
        usage.since += 1

    async def _quotas_of(self, tenant: str) -> Quotas | None:
        if tenant not in self._quotas:
            doc = await self.registry.sandbox(tenant)
            self._quotas[tenant] = None if doc is None else Sandbox.model_validate(doc).quotas
        return self._quotas[tenant]

    def _forget(self, name: str) -> None:
        self._quotas.pop(name, None)
        self._buckets.pop(name, None)
        self._usage.pop(name, None)


@dataclass
class _Usage:
    items: int  # entities and instances stored when last counted
    since: int  # messages admitted since
    at: float  # when counted (monotonic)


USAGE_TTL = 1.0


def _validated(body: Any) -> Sandbox:
    try:
        return Sandbox.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "sandbox"
        raise BadRequestData(f"{where}: {first['msg']}") from None
