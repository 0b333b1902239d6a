"""Which service an API key belongs to: the one of its config groups (or devices).

A southbound message carries only an API key and a device id. As the IoT Agents do, the key's
config group decides the service (tenant) the device is looked up in, so a device another
service provisioned with the same key and id never takes the message, nor its commands. Dalgu
goes one step further at provisioning: an API key belongs to one service, the first to
provision a config group or device with it; another service's config group with it is a
duplicate (409 `DUPLICATE_GROUP`) and another service's device with it is refused (400), so
the key of a firm (a sandbox's key above all) is never routed to, or sends from, another
tenant.
"""

from __future__ import annotations

from dalgu.errors import AlreadyExists, BadRequestData
from dalgu.store.base import DeviceRecord, DeviceRegistry


async def owning_group(
    registry: DeviceRegistry, apikey: str, resource: str | None
) -> DeviceRecord | None:
    """The config group of the key serving `resource`, else any of the key's groups (its
    service owns the key), None when no group has the key."""
    group = await registry.group_for(apikey, resource)
    if group is None and resource is not None:
        group = await registry.group_for(apikey, None)
    return group


async def device_of(
    registry: DeviceRegistry, apikey: str, device_id: str, resource: str | None = None
) -> DeviceRecord | None:
    """The provisioned device a message with this key and device id is for, looked up in the
    service of the key's config group; a key no group has, among the devices provisioned
    with it."""
    owner = await owning_group(registry, apikey, resource)
    return await registry.device_for(apikey, device_id, None if owner is None else owner.tenant)


async def owners(registry: DeviceRegistry, apikey: str) -> list[str]:
    """The services the key belongs to: those of its config groups, else (a key no group has)
    those of the devices provisioned with it; one, unless provisioned before keys were
    refused in other services."""
    groups, devices = await registry.apikey_services(apikey)
    return groups or devices


async def refuse_foreign_group(registry: DeviceRegistry, tenant: str, apikey: str) -> None:
    """Refuse a config group in `tenant` with a key that belongs to another service."""
    belongs = await owners(registry, apikey)
    if belongs and tenant not in belongs:
        raise AlreadyExists(
            f"apikey {apikey!r} is already used by another service's config groups or "
            "devices: an apikey belongs to one service, choose another"
        )


async def refuse_foreign_device(
    registry: DeviceRegistry, tenant: str, device_id: str, apikey: str
) -> None:
    """Refuse a device in `tenant` with a key that belongs to another service: its messages
    would go to that service, or take that service's devices' messages."""
    belongs = await owners(registry, apikey)
    if belongs and tenant not in belongs:
        raise BadRequestData(
            f"device {device_id!r}: apikey {apikey!r} is used by another service's config "
            "groups or devices, and an apikey belongs to one service: provision the device "
            "with an apikey of this service"
        )
