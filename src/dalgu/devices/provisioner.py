"""Provisioning: the IoT Agent provisioning API's config groups and devices, all or none.

As the IoT Agent library provisions them (`/iot/services`, `/iot/devices`, `/iot/op/delete`):
config groups unique by API key and resource, devices under a FIWARE service (the NGSI-LD
tenant) and service path; an API key belongs to one service (`ownership.py`). Every group
or device of a request is checked (its fields, its apikey, that it is not provisioned yet,
that its entity can be written, the sandbox's quotas) before any is stored, and a store
error midway takes back what the request stored, so a refused request leaves nothing behind
and its retry is not a 409.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from dalgu.broker.model import Entity, is_uri
from dalgu.broker.service import EntityService
from dalgu.devices.mapping import DeviceBinding, bind
from dalgu.devices.ownership import refuse_foreign_device, refuse_foreign_group
from dalgu.devices.provisioning import (
    Device,
    ServiceGroup,
    group_fields,
    parse_devices,
    parse_groups,
)
from dalgu.devices.resolution import DeviceResolver
from dalgu.devices.traffic import shown
from dalgu.errors import AlreadyExists, BadRequestData, DalguError, ResourceNotFound
from dalgu.store.base import DeviceRecord, DeviceRegistry

_PAGE = 1000  # devices read at a time


class Admission(Protocol):
    """Quotas the device service asks about before storing (the testbed's sandboxes)."""

    async def admit_apikey(self, tenant: str, apikey: str) -> None:
        """Refuse provisioning an API key the tenant's devices could not send with."""

    async def admit_message(self, tenant: str, device_id: str) -> None: ...

    async def admit_devices(
        self, tenant: str, adding: int, provisioned: Callable[[], Awaitable[int]]
    ) -> None:
        """Refuse `adding` devices over the quota; `provisioned` counts (only when needed)."""

    async def is_secret(self, apikey: str) -> bool:
        """Whether listings must hide the key (a sandbox's: shown once when issued)."""


class Provisioner:
    """Creates, lists, changes and removes config groups and devices of the registry."""

    def __init__(
        self,
        registry: DeviceRegistry,
        entities: EntityService,
        resolver: DeviceResolver,
        changed: Callable[[str], None],
    ) -> None:
        self.registry = registry
        self.entities = entities
        self.resolver = resolver
        self._changed = changed  # provisioning of a tenant changed: forget what was derived
        self.admission: Admission | None = None

    # --- config groups --------------------------------------------------------------------

    async def create_groups(self, tenant: str, service_path: str, body: Any) -> None:
        groups = parse_groups(body)
        for index, group in enumerate(groups):  # every group checked before any is stored
            self._check_template(group, f"services[{index}]")
            if self.admission is not None:
                await self.admission.admit_apikey(tenant, group.apikey)
            await refuse_foreign_group(self.registry, tenant, group.apikey)
        stored: list[DeviceRecord] = []
        try:  # all or none: a group refused (taken, say) takes back those stored before it
            for group in groups:
                record = DeviceRecord(
                    tenant, service_path, group.apikey, group.resource, _dump(group)
                )
                await self.registry.put_group(record)
                stored.append(record)
        except BaseException:
            for record in stored:
                await self.registry.delete_group(
                    record.tenant, record.service_path, record.apikey, record.key
                )
            raise
        finally:
            self._changed(tenant)

    def _check_template(self, group: ServiceGroup, where: str) -> None:
        """Refuse a group whose devices' entities could never be written (an `entity_type`
        the broker refuses), rather than accept it and refuse each of their messages."""
        try:
            self.resolver.provisioned_entity(bind(group, None, "device"))
        except DalguError as error:
            raise BadRequestData(f"{where}.entity_type: {error.detail}") from None

    async def groups(self, tenant: str, service_path: str | None) -> list[dict[str, Any]]:
        records = await self.registry.groups(tenant, service_path)
        keys = await self._listed_keys(records)
        return [
            {
                **_GROUP_LISTS,
                **r.doc,
                "apikey": keys[r.apikey],
                "service": r.tenant,
                "subservice": r.service_path,
            }
            for r in records
        ]

    async def _listed_keys(self, records: list[DeviceRecord]) -> dict[str, str]:
        """Each record's apikey as listings show it: a sandbox's key only by its first
        characters (it is shown once, when issued), any other as given, as the agents do."""
        keys: dict[str, str] = {}
        for apikey in {r.apikey for r in records}:
            secret = self.admission is not None and await self.admission.is_secret(apikey)
            keys[apikey] = shown(apikey) if secret else apikey
        return keys

    async def update_group(
        self, tenant: str, service_path: str, apikey: str, resource: str, fields: Any
    ) -> None:
        current = await self._group(tenant, service_path, apikey, resource)
        if not isinstance(fields, dict):
            raise BadRequestData("the body must be a JSON object of the fields to change")
        changed = parse_groups({"services": [{**current.doc, **group_fields(fields)}]})[0]
        if (changed.apikey, changed.resource) != (apikey, resource):
            raise BadRequestData("apikey and resource identify a group and cannot change")
        self._check_template(changed, "services[0]")
        await self.registry.put_group(
            DeviceRecord(tenant, service_path, apikey, resource, _dump(changed)), replace=True
        )
        self._changed(tenant)

    async def delete_group(
        self,
        tenant: str,
        service_path: str,
        apikey: str,
        resource: str,
        *,
        with_devices: bool = False,
    ) -> None:
        """Remove a config group; `with_devices` (the agents' `device=true`) removes its
        devices too: those of its service path provisioned with its apikey."""
        await self._group(tenant, service_path, apikey, resource)  # 404 before anything goes
        if with_devices:
            offset, doomed = 0, []
            while True:
                page, count = await self.registry.devices(tenant, service_path, _PAGE, offset)
                doomed += [r.key for r in page if r.apikey == apikey]
                offset += len(page)
                if not page or offset >= count:
                    break
            for device_id in doomed:
                await self.registry.delete_device(tenant, service_path, device_id)
        if not await self.registry.delete_group(tenant, service_path, apikey, resource):
            raise ResourceNotFound(f"no config group with apikey {apikey!r} here")
        self._changed(tenant)

    async def _group(
        self, tenant: str, service_path: str, apikey: str, resource: str
    ) -> DeviceRecord:
        for record in await self.registry.groups(tenant, service_path):
            if record.apikey == apikey and record.key == resource:
                return record
        raise ResourceNotFound(f"no config group with apikey {apikey!r} here")

    # --- devices --------------------------------------------------------------------------

    async def create_devices(self, tenant: str, service_path: str, body: Any) -> None:
        """Provision the body's devices, all or none: every device is checked (its apikey,
        that it is not provisioned yet, that its entity can be written) before any is
        stored, and a store error midway takes back what this request stored."""
        devices = parse_devices(body)
        if self.admission is not None:
            await self.admission.admit_devices(
                tenant, len(devices), lambda: device_count(self.registry, tenant)
            )
        planned: list[tuple[DeviceRecord, DeviceBinding, Entity | None]] = []
        siblings: list[DeviceRecord] = []  # same id, another apikey: restored on a rollback
        own_keys: set[str] = set()  # apikeys found to be this service's
        for index, device in enumerate(devices):
            group = await self._group_of(tenant, service_path, device)
            apikey = device.apikey or (group.apikey if group is not None else "")
            if not apikey:
                raise BadRequestData(
                    f"device {device.device_id!r} has no apikey, and no config group of this "
                    "service and path gives it one: provision a config group first or give "
                    "the device its apikey"
                )
            existing = await self.registry.device(tenant, service_path, device.device_id)
            taken = any(r.key == device.device_id and r.apikey == apikey for r, _, _ in planned)
            if taken or (existing is not None and existing.apikey == apikey):
                raise AlreadyExists(f"device {device.device_id!r} is already provisioned")
            if existing is not None:
                siblings.append(existing)
            if self.admission is not None:
                await self.admission.admit_apikey(tenant, apikey)
            if apikey not in own_keys:
                await refuse_foreign_device(self.registry, tenant, device.device_id, apikey)
                own_keys.add(apikey)
            template = ServiceGroup(apikey=apikey) if group is None else group
            binding = bind(template, device, device.device_id)
            if not is_uri(binding.entity_id):
                raise BadRequestData(
                    f"devices[{index}].entity_name {device.entity_name!r} makes the entity id "
                    f"{binding.entity_id!r}, which is not a URI"
                )
            entity = self.resolver.provisioned_entity(binding)  # raises if it cannot be
            doc = _dump(device)
            doc["apikey"] = apikey
            record = DeviceRecord(tenant, service_path, apikey, device.device_id, doc)
            planned.append((record, binding, entity))
        stored: list[DeviceRecord] = []
        try:
            for record, _, _ in planned:
                await self.registry.put_device(record)
                stored.append(record)
            for _, binding, entity in planned:  # an existing entity gains its commands
                await self.resolver.write_entity(tenant, binding, entity)
        except BaseException:
            for record in stored:  # by id: its siblings of other apikeys are put back
                await self.registry.delete_device(record.tenant, record.service_path, record.key)
            for sibling in siblings:
                with contextlib.suppress(AlreadyExists):
                    await self.registry.put_device(sibling)
            raise
        finally:
            self._changed(tenant)

    async def devices(
        self, tenant: str, service_path: str | None, limit: int, offset: int
    ) -> dict[str, Any]:
        records, count = await self.registry.devices(tenant, service_path, limit, offset)
        keys = await self._listed_keys(records)
        explicit = await self._explicit_attrs(tenant)
        shown = [_device_out(r, keys, explicit, await self._entity(r)) for r in records]
        return {"count": count, "devices": shown}

    async def device(self, tenant: str, service_path: str | None, device_id: str) -> dict[str, Any]:
        record = await self.registry.device(tenant, service_path, device_id)
        if record is None:
            raise ResourceNotFound(f"device {device_id!r} is not provisioned here")
        keys = await self._listed_keys([record])
        explicit = await self._explicit_attrs(tenant)
        return _device_out(record, keys, explicit, await self._entity(record))

    async def _entity(self, record: DeviceRecord) -> dict[str, str]:
        """The entity a device writes to, for a device provisioned without naming it (or
        autoprovisioned): as the agents fill `entity_name` and `entity_type` in when a device
        is registered, so a script reading them finds the device's entity."""
        if record.doc.get("entity_name") and record.doc.get("entity_type"):
            return {}
        device = Device.model_validate(record.doc)
        group = await self._group_of(record.tenant, record.service_path, device)
        binding = bind(group or ServiceGroup(apikey=record.apikey), device, record.key)
        return {"entity_name": binding.entity_id, "entity_type": binding.entity_type}

    async def _explicit_attrs(self, tenant: str) -> dict[tuple[str, str], Any]:
        """The `explicitAttrs` the tenant's config groups give, by service path and apikey:
        what a device that sets none shows, as the agents merge it into the device."""
        return {
            (r.service_path, r.apikey): r.doc["explicitAttrs"]
            for r in await self.registry.groups(tenant, None)
            if "explicitAttrs" in r.doc
        }

    async def update_device(
        self, tenant: str, service_path: str | None, device_id: str, fields: Any
    ) -> None:
        """`PUT /iot/devices/{id}`: change a device's fields, `entity_type` and `entity_name`
        too, as the agents' update allows (a device given a new `entity_type` keeps its entity
        id; a new `entity_name` is a new entity, the old one left as it is)."""
        record = await self.registry.device(tenant, service_path, device_id)
        if record is None:
            raise ResourceNotFound(f"device {device_id!r} is not provisioned here")
        if not isinstance(fields, dict):
            raise BadRequestData("the body must be a JSON object of the fields to change")
        if "device_id" in fields and fields["device_id"] != device_id:
            raise BadRequestData("device_id identifies the device and cannot change")
        if "entity_type" in fields and not record.doc.get("entity_name"):
            # the entity keeps its id, as the agents keep the name the device was given
            current = Device.model_validate(record.doc)
            group = await self._group_of(record.tenant, record.service_path, current)
            template = group or ServiceGroup(apikey=record.apikey)
            fields = {"entity_name": bind(template, current, device_id).entity_id, **fields}
        changed = parse_devices({"devices": [{**record.doc, **fields}]})[0]
        doc = _dump(changed)
        doc["apikey"] = record.apikey
        group = await self._group_of(record.tenant, record.service_path, changed)
        binding = bind(group or ServiceGroup(apikey=record.apikey), changed, device_id)
        if not is_uri(binding.entity_id):
            raise BadRequestData(
                f"entity_name {changed.entity_name!r} makes the entity id "
                f"{binding.entity_id!r}, which is not a URI"
            )
        entity = self.resolver.provisioned_entity(binding)  # raises if it cannot be
        await self.registry.put_device(
            DeviceRecord(record.tenant, record.service_path, record.apikey, device_id, doc),
            replace=True,
        )
        self._changed(tenant)
        # as the agent upserts the entity with what the update added: new commands appear
        await self.resolver.write_entity(record.tenant, binding, entity)

    async def delete_device(self, tenant: str, service_path: str | None, device_id: str) -> None:
        if not await self.registry.delete_device(tenant, service_path, device_id):
            raise ResourceNotFound(f"device {device_id!r} is not provisioned here")
        self._changed(tenant)

    async def delete_devices(self, tenant: str, service_path: str, body: Any) -> None:
        """`POST /iot/op/delete`: remove the devices the body names by `deviceId` and
        `apikey`. As with the agents, those found are removed even when some are not, which
        is then a ResourceNotFound naming them."""
        items = body.get("devices") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise BadRequestData("the body must be an object with a non-empty 'devices' array")
        wanted: list[tuple[str, str | None]] = []
        for index, item in enumerate(items):
            device_id = item.get("deviceId") if isinstance(item, dict) else None
            apikey = item.get("apikey") if isinstance(item, dict) else None
            if not isinstance(device_id, str) or not device_id:
                raise BadRequestData(f"devices[{index}].deviceId: a device id is required")
            if apikey is not None and not isinstance(apikey, str):
                raise BadRequestData(f"devices[{index}].apikey: an apikey is a string")
            wanted.append((device_id, apikey))
        missing = []
        try:
            for device_id, apikey in wanted:
                record = await self._device_with(tenant, service_path, device_id, apikey)
                if record is None or not await self.registry.delete_device(
                    tenant, service_path, device_id
                ):
                    missing.append(device_id)
        finally:
            self._changed(tenant)
        if missing:
            names = ", ".join(repr(d) for d in missing)
            removed = len(wanted) - len(missing)
            raise ResourceNotFound(
                f"no device {names} is provisioned here with that apikey ({removed} other "
                f"device{'s' if removed != 1 else ''} named removed)"
            )

    async def _device_with(
        self, tenant: str, service_path: str, device_id: str, apikey: str | None
    ) -> DeviceRecord | None:
        record = await self.registry.device(tenant, service_path, device_id)
        if record is None or apikey is None or record.apikey == apikey:
            return record
        other = await self.registry.device_for(apikey, device_id, tenant)
        if other is not None and other.service_path == service_path:
            return other
        return None

    async def _group_of(
        self, tenant: str, service_path: str, device: Device
    ) -> ServiceGroup | None:
        groups = [
            ServiceGroup.model_validate(r.doc)
            for r in await self.registry.groups(tenant, service_path)
        ]
        if device.apikey is not None:
            groups = [g for g in groups if g.apikey == device.apikey]
        typed = [g for g in groups if g.entity_type == device.entity_type]
        chosen = typed or groups
        return chosen[0] if len(chosen) >= 1 else None


async def device_count(registry: DeviceRegistry, tenant: str) -> int:
    """The devices provisioned in a tenant."""
    _, count = await registry.devices(tenant, None, 0, 0)
    return count


def _dump(model: ServiceGroup | Device) -> dict[str, Any]:
    """What was provisioned, as given: a field left out stays out, and one given with its
    default value (`"type": "Property"`) is kept, as the agents keep and show it."""
    return model.model_dump(mode="json", exclude_none=True, exclude_unset=True)


# lists the agents always show (their registry's arrays are never missing), empty or not
_GROUP_LISTS: dict[str, Any] = {
    "attributes": [],
    "lazy": [],
    "commands": [],
    "static_attributes": [],
    "internal_attributes": [],
}
_DEVICE_LISTS = ("attributes", "lazy", "commands", "static_attributes")


def _device_out(
    record: DeviceRecord,
    keys: dict[str, str],
    explicit: dict[tuple[str, str], Any],
    entity: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A device as the agents answer it: every list, each mapping's `object_id` (its `name`
    when not given: the agents complete it so), `explicitAttrs` (its group's, else false),
    and its entity's name and type (`entity`) where it gives none."""
    doc: dict[str, Any] = {kind: [] for kind in _DEVICE_LISTS}
    doc.update(record.doc)
    for key, value in (entity or {}).items():
        if not doc.get(key):
            doc[key] = value
    for kind in ("attributes", "lazy", "commands"):
        doc[kind] = [
            m
            if not isinstance(m, dict) or m.get("object_id")
            else {"object_id": m.get("name"), **m}
            for m in doc[kind]
        ]
    doc.setdefault("explicitAttrs", explicit.get((record.service_path, record.apikey), False))
    return {
        **doc,
        "apikey": keys[record.apikey],
        "service": record.tenant,
        "service_path": record.service_path,
    }
