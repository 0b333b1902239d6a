"""Device commands, as the FIWARE IoT Agents run them, driven from NGSI-LD.

A device (or its config group) declares commands; its entity carries one attribute per
command, `<cmd>_status` and `<cmd>_info`. Changing a command attribute through NGSI-LD (a
PATCH of `ring` with `{"value": {"volume": 3}}`, say) sends the command to the device over its
transport: MQTT (`/<apikey>/<device_id>/cmd`) or an HTTP push to the device's `endpoint`, as
UltraLight (`dev@ring|volume=3`) or JSON (`{"ring": {"volume": 3}}`). `<cmd>_status` becomes
PENDING, its `<cmd>_info` emptied of the previous command's (or ERROR with the reason in
`<cmd>_info`); the device's result (on `/cmdexe`, or the HTTP push's answer) sets it to OK
with the result in `<cmd>_info`. A result for a command the device does not have, or for one
that waits for none (never sent, answered, failed or expired), is refused (400) and not stored,
as the IoT Agents refuse a result for a command the device lacks (CommandNotFound).

Transports register a `CommandSink` per transport name, so this service never imports them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from dalgu.broker.model import now_iso
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.devices.mapping import DeviceBinding, bind
from dalgu.devices.ownership import device_of, owners, owning_group
from dalgu.devices.provisioning import Device, ServiceGroup
from dalgu.devices.traffic import shown
from dalgu.errors import BadRequestData, DalguError, UnknownApiKey
from dalgu.ldcontext.termmap import TermMap
from dalgu.store.base import Change, DeviceRecord, DeviceRegistry

log = logging.getLogger(__name__)

PENDING, DELIVERED, OK, ERROR = "PENDING", "DELIVERED", "OK", "ERROR"
_AWAITING_RESULT = (PENDING, DELIVERED)  # sent (or fetched) and not answered yet
_PAGE = 1000
# set while provisioning writes a device's command attributes: adding them sends nothing
_PROVISIONING: ContextVar[bool] = ContextVar("provisioning_commands", default=False)


@dataclass(frozen=True, slots=True)
class DeviceCommand:
    tenant: str
    entity_id: str
    apikey: str
    device_id: str
    name: str
    value: Any
    payload: Literal["ul", "json"]
    transport: str  # "MQTT" or "HTTP"
    endpoint: str | None  # where an HTTP push goes
    service_path: str = "/"  # the device's fiware-servicepath (an HTTP push says it)


CommandSink = Callable[[DeviceCommand], Awaitable[Any]]
"""Sends a command; returns the device's result when it comes back at once (HTTP push), else
None (the result arrives later, e.g. on MQTT `/cmdexe`). Raises `DalguError` on failure."""


@dataclass(frozen=True, slots=True)
class CommandTarget:
    """A device that commands (or requests for lazy attributes) can be sent to, and how."""

    tenant: str
    binding: DeviceBinding
    transport: str
    payload: Literal["ul", "json"]
    endpoint: str | None
    service_path: str = "/"

    @property
    def polling(self) -> bool:
        """An HTTP device without an endpoint fetches its commands (`getCmd=1`)."""
        return self.transport == "HTTP" and not self.endpoint


POLL = "POLL"  # the sink name of commands that polling devices fetch


@dataclass(frozen=True, slots=True)
class CommandStatus:
    """A command's status changed (PENDING, DELIVERED, OK, ERROR, EXPIRED), at `at`."""

    tenant: str
    entity_id: str
    name: str
    status: str
    info: Any
    at: float


class CommandDispatcher:
    def __init__(self, registry: DeviceRegistry, entities: EntityService, terms: TermMap) -> None:
        self.registry = registry
        self.entities = entities
        self.terms = terms
        self.sinks: dict[str, CommandSink] = {}
        self._targets: dict[str, dict[str, CommandTarget]] = {}  # tenant → entity id → target
        self._tasks: set[asyncio.Task[None]] = set()
        self.observers: list[Callable[[CommandStatus], None]] = []  # conformance runs, say

    def forget(self, tenant: str | None = None) -> None:
        """Provisioning changed: rebuild the tenant's command targets when next needed."""
        if tenant is None:
            self._targets.clear()
        else:
            self._targets.pop(tenant, None)

    def provisioned(
        self,
        tenant: str,
        service_path: str,
        binding: DeviceBinding,
        group: ServiceGroup,
        device: Device,
    ) -> None:
        """A device was provisioned from its group: add it to the tenant's targets, if they
        are known, instead of rebuilding them (autoprovisioning adds devices one by one)."""
        targets = self._targets.get(tenant)
        if targets is not None and (binding.commands or binding.lazy):
            targets[binding.entity_id] = _target(tenant, service_path, binding, group, device)

    @staticmethod
    @contextlib.contextmanager
    def provisioning() -> Iterator[None]:
        """Writes in this block put command attributes on entities (provisioning a device
        whose entity exists already): they send no command."""
        token = _PROVISIONING.set(True)
        try:
            yield
        finally:
            _PROVISIONING.reset(token)

    async def changed(self, tenant: str, changes: list[Change]) -> None:
        """Entity-service listener: a changed command attribute sends that command."""
        if _PROVISIONING.get():
            return
        targets = await self.targets(tenant)
        if not targets:
            return
        for change in changes:
            target = targets.get(change.entity_id)
            if target is None or change.before is None or change.after is None:
                continue
            for name in target.binding.commands:
                iri = self.terms.expand(name)
                new = change.after.get(iri)
                if new and new != change.before.get(iri):
                    value = new[0].get("value", new[0].get("json"))
                    if target.polling:  # queued durably before the change is acknowledged
                        await self._send(target, name, value)
                        continue
                    task = asyncio.create_task(self._send(target, name, value))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def result(self, apikey: str, device_id: str, name: str, result: Any) -> None:
        """A device reports the result of a command: OK, with the result as `<cmd>_info`.
        Raises BadRequestData when the device has no such command or the command waits for
        no result, so that a device cannot write `<x>_status` and `<x>_info` of its choosing."""
        target = await self._target_of(apikey, device_id)
        if target is None:
            return
        binding = target.binding
        if name not in binding.commands:
            raise BadRequestData(f"{name!r} is not a command of device {device_id!r}")
        status = await self._current(target.tenant, binding.entity_id, name)
        if status not in _AWAITING_RESULT:
            raise BadRequestData(
                f"command {name!r} of device {device_id!r} waits for no result (its status "
                f"is {status}): a result is taken for a command sent and not yet answered"
            )
        await self._status(target.tenant, binding.entity_id, name, OK, result)

    async def _target_of(self, apikey: str, device_id: str) -> CommandTarget | None:
        """The device a result comes from (None, logged, when it is unknown)."""
        for tenant_targets in self._targets.values():
            for target in tenant_targets.values():
                if target.binding.apikey == apikey and target.binding.device_id == device_id:
                    return target
        record = await device_of(self.registry, apikey, device_id)
        if record is None:
            if not await owners(self.registry, apikey):
                # maybe another deployment's device on a shared broker: the transport logs it
                # as it logs their measures (a debug line there, a warning on its own broker)
                raise UnknownApiKey(f"no config group or device is provisioned for {apikey!r}")
            log.warning("command result from unknown device %s/%s", shown(apikey), device_id)
            return None
        for fresh in (False, True):
            if fresh:  # another server process may have provisioned it since they were read
                self.forget(record.tenant)
            for target in (await self.targets(record.tenant)).values():
                if target.binding.device_id == device_id:
                    return target
        raise BadRequestData(f"device {device_id!r} has no commands")

    async def _current(self, tenant: str, entity_id: str, name: str) -> Any:
        """The command's status as stored (shared by every server process), None if none."""
        entity = await self.entities.store.get(tenant, entity_id)
        instances = (entity or {}).get(self.terms.expand(f"{name}_status")) or [{}]
        return instances[0].get("value")

    async def drain(self) -> None:
        """Wait for commands being sent (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def send(self, tenant: str, entity_id: str, name: str, value: Any) -> bool:
        """Send a command to the device behind an entity (the testbed's round trips); False
        when no device with that command is behind it."""
        target = (await self.targets(tenant)).get(entity_id)
        if target is None or name not in target.binding.commands:
            return False
        await self._send(target, name, value)
        return True

    async def _send(self, target: CommandTarget, name: str, value: Any) -> None:
        binding = target.binding
        command = DeviceCommand(
            target.tenant,
            binding.entity_id,
            binding.apikey,
            binding.device_id,
            name,
            value,
            target.payload,
            target.transport,
            target.endpoint,
            target.service_path,
        )
        sink = self.sinks.get(POLL if target.polling else target.transport)
        # PENDING before the command leaves, as the IoT Agent does: a device may answer (in
        # this process or another) before the sink returns, and its OK must stay the last word.
        # The info is emptied: the previous command's result or error is not this one's
        await self._status(target.tenant, binding.entity_id, name, PENDING, "")
        try:
            if sink is None:
                raise DalguError(
                    f"no {target.transport} transport runs to send commands (give the device "
                    "or its config group the transport MQTT or HTTP)"
                )
            answer = await sink(command)
        except DalguError as error:
            log.warning("command %s to %s failed: %s", name, binding.device_id, error.detail)
            await self._status(target.tenant, binding.entity_id, name, ERROR, error.detail)
            return
        if answer is not None:
            await self._status(target.tenant, binding.entity_id, name, OK, answer)

    async def status(self, tenant: str, entity_id: str, name: str, status: str, info: Any) -> None:
        """Record a command's status (and info) on its entity; observers see it."""
        await self._status(tenant, entity_id, name, status, info)

    async def _status(self, tenant: str, entity_id: str, name: str, status: str, info: Any) -> None:
        event = CommandStatus(tenant, entity_id, name, status, info, time.time())
        for observer in list(self.observers):
            observer(event)
        now = now_iso()
        # observed when the status changed, as the agents stamp a command's result attributes:
        # a round trip can be timed from the entity and its temporal history
        fragment: dict[str, Any] = {
            "id": entity_id,
            f"{name}_status": {"type": "Property", "value": status, "observedAt": now},
        }
        if info is not None:
            fragment[f"{name}_info"] = {"type": "Property", "value": info, "observedAt": now}
        attrs = parse_entity(fragment, self.terms, now, require_type=False)
        try:
            await self.entities.update_attributes(tenant, entity_id, attrs)
        except DalguError as error:  # the entity was deleted meanwhile, say
            log.warning("status of command %s on %s not recorded: %s", name, entity_id, error)

    async def targets(self, tenant: str) -> dict[str, CommandTarget]:
        """entity id → the device behind it, for the tenant's devices with commands or lazy
        attributes (read once, then kept until provisioning changes)."""
        cached = self._targets.get(tenant)
        if cached is not None:
            return cached
        groups: dict[str, ServiceGroup] = {}
        resources: dict[str, frozenset[str]] = {}  # by apikey: the resources its groups serve
        for r in await self.registry.groups(tenant, None):
            groups[r.apikey] = ServiceGroup.model_validate(r.doc)
            resources[r.apikey] = resources.get(r.apikey, frozenset()) | {r.key}
        targets: dict[str, CommandTarget] = {}
        foreign: dict[str, bool] = {}  # apikeys without a group here: another service's?
        offset = 0
        while True:
            records, _ = await self.registry.devices(tenant, None, _PAGE, offset)
            for record in records:
                if record.apikey not in groups and await self._foreign(tenant, record, foreign):
                    continue
                device = Device.model_validate(record.doc)
                # a device stored without an apikey (a request that failed half-way before
                # provisioning checked for one could leave it) gets an empty template, constructed:
                # validation refuses that apikey
                group = groups.get(record.apikey) or ServiceGroup.model_construct(
                    apikey=record.apikey
                )
                binding = bind(group, device, device.device_id)
                if binding.commands or binding.lazy:
                    targets[binding.entity_id] = _target(
                        tenant,
                        record.service_path,
                        binding,
                        group,
                        device,
                        resources.get(record.apikey),
                    )
            if len(records) < _PAGE:
                break
            offset += _PAGE
        self._targets[tenant] = targets
        return targets

    async def _foreign(self, tenant: str, record: DeviceRecord, known: dict[str, bool]) -> bool:
        """Whether the device's apikey belongs to another service's config group (a device
        provisioned before such keys were refused): its commands would reach that service's
        device of the same id, so it gets none."""
        if record.apikey not in known:
            owner = await owning_group(self.registry, record.apikey, None)
            known[record.apikey] = owner is not None and owner.tenant != tenant
            if known[record.apikey]:
                log.warning(
                    "device %r of %r sends no commands: its apikey %s belongs to another "
                    "service's config group",
                    record.key,
                    tenant,
                    shown(record.apikey),
                )
        return known[record.apikey]


def _target(
    tenant: str,
    service_path: str,
    binding: DeviceBinding,
    group: ServiceGroup,
    device: Device,
    resources: frozenset[str] | None = None,
) -> CommandTarget:
    endpoint = device.endpoint or group.endpoint
    transport = device.transport or group.transport or ("HTTP" if endpoint else "MQTT")
    return CommandTarget(
        tenant, binding, transport, _payload(group, device, resources), endpoint, service_path
    )


def _payload(
    group: ServiceGroup, device: Device, resources: frozenset[str] | None
) -> Literal["ul", "json"]:
    """What the device speaks: its (or its group's) `protocol` when given (`IoTA-JSON`,
    `PDI-IoTA-JSON`, `json`: JSON; anything else UltraLight) or a `payloadType` naming JSON;
    else JSON when its apikey's config groups (`resources`, else `group`'s) serve `/iot/json`
    only, as a device of iotagent-json, which needs no `protocol`, gets JSON; else
    UltraLight."""
    protocol = device.protocol or group.protocol
    if protocol:
        return "json" if "json" in protocol.lower() else "ul"
    if "json" in (device.payloadType or group.payloadType or "").lower():
        return "json"
    served = resources if resources is not None else frozenset({group.resource})
    return "json" if served == {"/iot/json"} else "ul"
