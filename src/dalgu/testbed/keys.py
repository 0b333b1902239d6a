"""Sandbox API keys: what a firm's devices authenticate to the southbound with.

A sandbox gets a freshly generated key when it registers, and more on demand; each is shown
once, and the sandbox's key list stores only its SHA-256 digest (keys are 192 random bits, so a
plain digest is enough; a slow password hash would only slow every message). The key is the IoT
Agent `apikey`: the firm provisions its config groups with it and its devices send with it
(`/<apikey>/<device>/attrs`, `/iot/d?k=<apikey>`); those config groups and devices keep it as
given, as an IoT Agent's do, since the IoT Agent API returns it.

`authenticate` is the southbound check the transports call at their edge, before a message
reaches the device service: a revoked key is refused, and so is any other API key whose
config group lives in a sandbox that has keys. API keys outside such sandboxes pass, as with
an IoT Agent. Verdicts are cached for `ttl` seconds, so a key revoked in one server process
stops working in the others within that time.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from dalgu.broker.model import now_iso
from dalgu.errors import BadRequestData, ResourceNotFound, Unauthorized
from dalgu.store.base import DeviceRegistry, SandboxKey, SandboxRegistry

KEY_PREFIX = "dk"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key as handed out once: its id (to rotate or revoke it by) and the key itself."""

    id: str
    key: str
    created: str


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class SandboxKeys:
    def __init__(self, registry: SandboxRegistry, devices: DeviceRegistry, ttl: float = 2.0):
        self.registry = registry
        self.devices = devices
        self.ttl = ttl
        self._verdicts: dict[str, tuple[float, str | None]] = {}  # apikey → (until, refusal)

    async def issue(self, tenant: str) -> IssuedKey:
        existing = await self.registry.keys(tenant)
        key = f"{KEY_PREFIX}{secrets.token_urlsafe(24)}"
        issued = IssuedKey(f"key{len(existing) + 1}", key, now_iso())
        await self.registry.put_key(SandboxKey(tenant, issued.id, digest(key), issued.created))
        self._verdicts.clear()
        return issued

    async def listed(self, tenant: str) -> list[dict[str, str]]:
        """The sandbox's keys without their secrets."""
        out = []
        for key in await self.registry.keys(tenant):
            entry = {"id": key.id, "created": key.created}
            if key.revoked is not None:
                entry["revoked"] = key.revoked
            out.append(entry)
        return out

    async def revoke(self, tenant: str, key_id: str) -> None:
        if not await self.registry.revoke_key(tenant, key_id, now_iso()):
            raise ResourceNotFound(f"sandbox {tenant!r} has no active key {key_id!r}")
        self._verdicts.clear()

    async def rotate(self, tenant: str, key_id: str) -> IssuedKey:
        """A new key in place of `key_id`, which is revoked."""
        await self.revoke(tenant, key_id)
        return await self.issue(tenant)

    async def forget(self, tenant: str) -> None:
        await self.registry.delete_keys(tenant)
        self._verdicts.clear()

    async def issued(self, apikey: str) -> bool:
        """Whether a sandbox issued this key (revoked since or not)."""
        return await self.registry.key_by_digest(digest(apikey)) is not None

    async def refuse_foreign(self, tenant: str, apikey: str) -> None:
        """Refuse provisioning a sandbox's key in any other service (tenant, sandbox or not):
        the key is the sandbox's, and its devices' messages are the sandbox's. Refuse too, in
        a sandbox that has keys, an API key its devices would be refused with (one it did not
        issue, or revoked): better a 400 now than a 401 for every message later."""
        key = await self.registry.key_by_digest(digest(apikey))
        if key is not None and key.tenant != tenant:
            raise BadRequestData(
                f"this apikey is a key of another sandbox, usable only in that sandbox's "
                f"service, not in {tenant!r}"
            )
        if not await self.registry.keys(tenant):
            return
        if key is not None and key.tenant == tenant and key.revoked is None:
            return
        why = "revoked" if key is not None and key.tenant == tenant else "not one of its keys"
        raise BadRequestData(
            f"sandbox {tenant!r} accepts only its own API keys, and this apikey is {why}: "
            f"provision with a key it issued (POST /testbed/sandboxes/{tenant}/keys)"
        )

    async def authenticate(self, apikey: str) -> None:
        """Raise Unauthorized unless devices may send with this API key."""
        now = time.monotonic()
        cached = self._verdicts.get(apikey)
        if cached is None or cached[0] < now:
            cached = (now + self.ttl, await self._refusal(apikey))
            if len(self._verdicts) > 100_000:
                self._verdicts.clear()
            self._verdicts[apikey] = cached
        if cached[1] is not None:
            raise Unauthorized(cached[1])

    async def _refusal(self, apikey: str) -> str | None:
        key = await self.registry.key_by_digest(digest(apikey))
        if key is not None:
            return None if key.revoked is None else f"API key {key.id} of sandbox was revoked"
        group = await self.devices.group_for(apikey, None)
        if group is None:
            return None  # unknown keys are the device service's to refuse (ResourceNotFound)
        if await self.registry.keys(group.tenant):
            return f"sandbox {group.tenant!r} accepts only its own API keys"
        return None
