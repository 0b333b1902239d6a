"""Which device, entity binding and tenant a southbound message is for.

A message names an API key and a device id, and comes to a resource (`/iot/d`, `/iot/json`;
MQTT names none). The key's config group decides the service (tenant) the device is looked
up in, as with the IoT Agents (`ownership.py`). A provisioned device is read with its own
config groups (its tenant, service path and apikey) that serve that resource; a device not
provisioned yet is bound by the group of its apikey and resource, and provisioned from it
(`autoprovision`) once its message proved good. Bindings of provisioned devices are kept
until provisioning changes in this process, and for `BINDING_LIFETIME` at most: another server
process may have changed or removed them in the store.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from dalgu.broker.model import ENTITY_KEYS, Entity, now_iso
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.devices.commands import CommandDispatcher
from dalgu.devices.mapping import DeviceBinding, bind
from dalgu.devices.ownership import device_of
from dalgu.devices.provisioning import DEVICE_ID_RULE, Device, ServiceGroup, is_device_id
from dalgu.devices.statics import fitting_statics
from dalgu.errors import (
    AlreadyExists,
    BadRequestData,
    ResourceNotFound,
    UnknownApiKey,
    WrongResource,
)
from dalgu.ldcontext.termmap import TermMap
from dalgu.store.base import DeviceRecord, DeviceRegistry

log = logging.getLogger(__name__)

TRANSPORTS = ("HTTP", "MQTT", "COAP")  # what a device's first message may come on
# the protocol an autoprovisioned device speaks, by the resource of its first message's
# payload, named as the IoT Agents name theirs
PROTOCOLS = {"/iot/json": "IoTA-JSON", "/iot/d": "IoTA-UL"}
BINDING_LIFETIME = 2.0  # seconds a binding is used before the store is read again


class DeviceResolver:
    def __init__(
        self,
        registry: DeviceRegistry,
        entities: EntityService,
        terms: TermMap,
        commands: CommandDispatcher,
    ) -> None:
        self.registry = registry
        self.entities = entities
        self.terms = terms
        self.commands = commands
        # by apikey, device id and resource (a device's groups may differ by resource)
        self._bindings: dict[
            tuple[str, str, str | None], tuple[DeviceBinding, str, float]  # … read at
        ] = {}

    def forget(self) -> None:
        """Provisioning changed: bindings are read again when next needed."""
        self._bindings.clear()

    async def resolve(
        self, apikey: str, device_id: str, resource: str | None, prefer: str | None = None
    ) -> tuple[DeviceBinding, str, DeviceRecord | None]:
        """The device's binding and tenant, and the group record to autoprovision it from
        when it is not provisioned yet: the caller provisions it only once its message has
        proved good, so a refused message leaves no device or entity behind. A message that
        names no resource (MQTT) is read with the group of `prefer` (its payload's resource:
        `/iot/d` for UltraLight, `/iot/json` for JSON), else a blank one, else any, as each
        IoT Agent's MQTT binding takes its own resource's group."""
        if not is_device_id(device_id):  # before the store is asked (PostgreSQL has no NUL)
            raise BadRequestData(f"{DEVICE_ID_RULE}, not {device_id!r}")
        if resource is not None:
            prefer = None
        key = (apikey, device_id, resource if prefer is None else f"mqtt:{prefer}")
        cached = self._bindings.get(key)
        if cached is not None and time.monotonic() - cached[2] < BINDING_LIFETIME:
            return cached[0], cached[1], None
        device_record = await device_of(self.registry, apikey, device_id, resource)
        if device_record is not None:
            group_record = await self._group_serving(device_record, resource, prefer)
        else:
            group_record = None
            if prefer is not None:  # its resource's group, or a blank one
                group_record = await self.registry.group_for(apikey, prefer)
            if group_record is None:
                group_record = await self.registry.group_for(apikey, resource)
        if group_record is None and device_record is None:
            raise UnknownApiKey(f"no config group or device is provisioned for apikey {apikey!r}")
        group = (
            ServiceGroup.model_validate(group_record.doc)
            if group_record is not None
            else ServiceGroup(apikey=apikey)
        )
        if device_record is None:
            assert group_record is not None
            if not group.autoprovision:
                raise ResourceNotFound(
                    f"device {device_id!r} is not provisioned and its group does not autoprovision"
                )
            if not is_device_id(device_id):
                raise BadRequestData(f"{DEVICE_ID_RULE}, not {device_id!r}")
            where = {"service": group_record.tenant, "service_path": group_record.service_path}
            return bind(group, None, device_id, **where), group_record.tenant, group_record
        device = Device.model_validate(device_record.doc)
        where = {"service": device_record.tenant, "service_path": device_record.service_path}
        binding = bind(group, device, device_id, **where)
        read = time.monotonic()
        self._bindings[key] = (binding, device_record.tenant, read)
        return binding, device_record.tenant, None

    async def _group_serving(
        self, device: DeviceRecord, resource: str | None, prefer: str | None = None
    ) -> DeviceRecord | None:
        """The config group a provisioned device's message is read with: one of the device's
        own groups (its tenant, service path and apikey) that serves the resource the message
        came to (MQTT names none). None when the device has no group; a message to a
        resource none of its groups serves is refused, as an IoT Agent of that resource
        would not know the device: it must not be read with another template, and never
        rebinds the device or makes it a second entity."""
        own = [
            g
            for g in await self.registry.groups(device.tenant, device.service_path)
            if g.apikey == device.apikey
        ]
        if not own:
            return None
        serving = [g for g in own if resource is None or g.key in (resource, "")]
        if not serving:
            served = ", ".join(sorted(g.key for g in own))
            log.warning(
                "message from device %r (apikey %r) to %s refused: its group serves %s",
                device.key,
                device.apikey,
                resource,
                served,
            )
            raise WrongResource(
                f"device {device.key!r} belongs to the config group of apikey "
                f"{device.apikey!r} for {served}, not {resource}: send its messages there "
                "(nothing was stored)"
            )
        if prefer is not None:  # MQTT: the payload's resource's group, else a blank one
            for wanted in (prefer, ""):
                chosen = [g for g in serving if g.key == wanted]
                if chosen:
                    return chosen[0]
        return max(serving, key=lambda g: g.key)  # the resource's own group before a ''

    async def autoprovision(
        self,
        group: DeviceRecord,
        device_id: str,
        transport: str | None = None,
        payload: str | None = None,
    ) -> DeviceRecord:
        """Provision a device from its group (its quota already admitted). A group that
        names no transport leaves it to the one the device's first message came on (`http`,
        `mqtt`, `coap`), as the IoT Agents' autoprovisioning does: commands go back that way
        (an HTTP device without an endpoint polls for them). A group that names no
        `protocol` leaves it to the payload of that message (`payload`, its resource:
        `/iot/json` for JSON, `/iot/d` for UltraLight): as each IoT Agent speaks to its
        devices in its own payload, a device that sent JSON gets its commands (and lazy
        attribute requests) in JSON."""
        template = ServiceGroup.model_validate(group.doc)
        doc: dict[str, Any] = {"device_id": device_id, "apikey": group.apikey}
        arrived = (transport or "").upper()
        if template.transport is None and arrived in TRANSPORTS:
            doc["transport"] = arrived
        if template.protocol is None and payload in PROTOCOLS:
            doc["protocol"] = PROTOCOLS[payload]
        # its entity as the group names it now, kept as the agents fill it in: a later change of
        # the group's entity_type is for new devices, this one keeps its entity
        named = bind(template, Device.model_validate(doc), device_id)
        doc["entity_name"] = named.entity_id
        doc["entity_type"] = named.entity_type
        record = DeviceRecord(group.tenant, group.service_path, group.apikey, device_id, doc)
        device = Device.model_validate(doc)
        binding = bind(template, device, device_id)
        entity = self.provisioned_entity(binding)  # a refusal stores no device
        try:
            await self.registry.put_device(record)
        except AlreadyExists:  # another message provisioned it first
            found = await self.registry.device_for(group.apikey, device_id, group.tenant)
            if found is not None:
                return found
        await self.write_entity(group.tenant, binding, entity)
        self.commands.provisioned(group.tenant, group.service_path, binding, template, device)
        return record

    async def write_entity(
        self, tenant: str, binding: DeviceBinding, entity: Entity | None
    ) -> None:
        """Write a provisioned device's entity (`provisioned_entity`): created when absent,
        else upserted as the IoT Agent in NGSI-LD mode writes it (`entityOperations/upsert`
        with `options=update`): the static attributes as provisioned, and each command, with
        its `<cmd>_status` UNKNOWN, where the entity has none (an existing command attribute
        and its status are kept). So an entity that existed before its device (another
        client's, or a device deleted and provisioned again) gains the commands, and a PATCH of
        them is not a 404. Adding them sends no command."""
        if entity is None:
            return
        with self.commands.provisioning():
            try:
                await self.entities.create(tenant, entity)
                return
            except AlreadyExists:
                pass
            commands = {
                self.terms.expand(key)
                for name in binding.commands
                for key in (name, f"{name}_status")
            }
            attributes = {k: v for k, v in entity.items() if k not in ENTITY_KEYS}
            statics = {k: v for k, v in attributes.items() if k not in commands}
            added = {k: v for k, v in attributes.items() if k in commands}
            try:
                if statics:
                    await self.entities.append_attributes(tenant, binding.entity_id, statics)
                if added:
                    await self.entities.append_attributes(
                        tenant, binding.entity_id, added, overwrite=False
                    )
            except ResourceNotFound:  # deleted meanwhile: created again as new
                with contextlib.suppress(AlreadyExists):
                    await self.entities.create(tenant, entity)

    def provisioned_entity(self, binding: DeviceBinding) -> Entity | None:
        """The entity a device's provisioning creates: its static attributes (those its
        `explicitAttrs` list names; none when an expression picks them) and commands. None
        when it would hold nothing (nor lazy attributes to read), or for a group whose
        `entityNameExp` names the entity with each message (the measures' update creates
        it), unless the device has commands to show. Raises the parser's `BadRequestData`
        when the entity cannot be written (an id that makes no URI): provisioning refuses the
        device then, before anything is stored."""
        if binding.entity_name_exp and not binding.commands:
            return None
        doc: dict[str, Any] = {"id": binding.entity_id, "type": binding.entity_type}
        if not binding.explicit_exp:  # else the expression picks them with each message
            doc.update(fitting_statics(binding, self.terms))
        for command in binding.commands:  # what NGSI-LD clients change to send a command
            doc[command] = {"type": "Property", "value": ""}
            doc[f"{command}_status"] = {"type": "Property", "value": "UNKNOWN"}
        entity = parse_entity(doc, self.terms, now_iso())
        if len(doc) == 2 and not binding.lazy:  # nothing to show or read: the first
            return None  # measures create it, as with the agents
        return entity
