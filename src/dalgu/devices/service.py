"""The device service: IoT Agent provisioning and measure ingestion, independent of transport.

Provisioning (`provisioner.py`) follows the IoT Agent library: config groups (unique by API
key and resource) and devices under a FIWARE service (the NGSI-LD tenant) and service path,
provisioned all or none. Ingestion takes
measure groups a transport has parsed (UltraLight or JSON, over HTTP, MQTT or CoAP), finds the
device by its API key and id (provisioning it from its group when `autoprovision` allows),
maps the measures (`dalgu.devices.mapping`) and writes them through the entity service, in
process: no HTTP hop, the same listeners (subscriptions, temporal history) as any API write.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from dalgu.broker.model import ENTITY_KEYS, Entity, now_iso
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import EntityService
from dalgu.devices.arrivals import Arrivals
from dalgu.devices.commands import POLL, CommandDispatcher
from dalgu.devices.expansion import ExpandedBinding
from dalgu.devices.lazy import LazyAttributes
from dalgu.devices.mapping import DeviceBinding, measures_to_entity
from dalgu.devices.multientity import MultiEntity, OtherEntity
from dalgu.devices.observation import (
    TIME_INSTANT,
    as_sent,
    in_time_order,
    observed_at,
    utc_time,
)
from dalgu.devices.omission import Omissions
from dalgu.devices.polling import CommandPolling
from dalgu.devices.provisioner import Admission, Provisioner, device_count
from dalgu.devices.resolution import DeviceResolver
from dalgu.devices.statics import StaticAttributes
from dalgu.devices.traffic import DeviceTraffic, MessageEvent
from dalgu.devices.transformation import MeasureTransformation
from dalgu.errors import (
    DalguError,
    OperationNotSupported,
    UnknownApiKey,
)
from dalgu.ldcontext.termmap import TermMap
from dalgu.store.base import CommandQueue, DeviceRecord, DeviceRegistry, QueuedCommand

MeasureGroups = Sequence[tuple[dict[str, Any], str | None]]  # (values, device timestamp)
_PAGE = 1000  # devices read at a time


class Message(NamedTuple):
    """One southbound message: `parse` gives its measure groups (raises on bad input);
    `resource` the path it came on where groups are told apart by it (`/iot/d`), `timestamp`
    the time the transport gave it (HTTP's `t` parameter)."""

    apikey: str
    device_id: str
    parse: Callable[[], MeasureGroups]
    resource: str | None = None
    timestamp: str | None = None
    # for a message naming no resource (MQTT): the resource its payload is of (`/iot/d`,
    # `/iot/json`), whose group reads it when the key has several
    prefer: str | None = None


@dataclass(frozen=True, slots=True)
class Ingested:
    """Where a message's measures went."""

    tenant: str
    entity_id: str
    groups: int


class DeviceService:
    def __init__(
        self,
        registry: DeviceRegistry,
        entities: EntityService,
        terms: TermMap,
        *,
        lazy_timeout: float = 3.0,
        command_expiry: float = 3600.0,
    ) -> None:
        self.registry = registry
        self.entities = entities
        self.terms = terms  # the @context device attribute names are expanded with
        self._expanded: dict[tuple[str, str], ExpandedBinding] = {}  # by apikey and device id
        # a binding's JEXL expressions (None: it has none), by apikey and device id
        self._transformations: dict[
            tuple[str, str], tuple[DeviceBinding, MeasureTransformation | None]
        ] = {}
        self._multi: dict[tuple[str, str], tuple[DeviceBinding, MultiEntity | None]] = {}
        self._omissions: dict[tuple[str, str], Omissions] = {}  # by apikey and device id
        self._arrivals: dict[str, Arrivals[Message]] = {}  # by transport
        self.commands = CommandDispatcher(registry, entities, terms)
        self.resolver = DeviceResolver(registry, entities, terms, self.commands)
        self.lazy = LazyAttributes(self.commands, terms, lazy_timeout)
        self.polling: CommandPolling | None = None
        if isinstance(registry, CommandQueue):
            self.polling = CommandPolling(registry, self.commands, command_expiry)
            self.commands.sinks[POLL] = self.polling
        self.traffic = DeviceTraffic()
        self.provisioner = Provisioner(
            registry, entities, self.resolver, self._provisioning_changed
        )
        entities.listeners.append(self.commands.changed)
        entities.lazy.append(self.lazy)

    async def known(
        self,
        apikey: str,
        device_id: str,
        resource: str | None = None,
        transport: str | None = None,
    ) -> None:
        """Raise ResourceNotFound unless the device is provisioned (or may be, by its group,
        as a device of the `transport` it came on)."""
        await self._binding(apikey, device_id, resource, transport)

    async def fetch_commands(
        self, apikey: str, device_id: str, resource: str | None = None
    ) -> list[QueuedCommand]:
        """A polling (HTTP) device asks for its commands (`getCmd=1`): each is handed out
        once."""
        await self.known(apikey, device_id, resource, "http")
        if self.polling is None:
            raise OperationNotSupported("this store keeps no command queue")
        return await self.polling.fetch(apikey, device_id)

    async def command_result(self, apikey: str, device_id: str, name: str, result: Any) -> None:
        """A device answered a command, or a request for a lazy attribute; a result refused
        (no such command, none waiting) is recorded as the device's refused message."""
        if self.lazy.answer(apikey, device_id, name, result):
            return
        try:
            await self.commands.result(apikey, device_id, name, result)
        except DalguError as error:
            if error.status < 500:
                refused = MessageEvent(
                    apikey, device_id, "", time.time(), None, (), error.kind, error.detail
                )
                self.traffic.record(replace(refused, kind="result"), quiet=True)
            raise

    @property
    def admission(self) -> Admission | None:
        """Quotas asked before storing (the testbed's sandboxes), None for none."""
        return self.provisioner.admission

    @admission.setter
    def admission(self, admission: Admission | None) -> None:
        self.provisioner.admission = admission

    def provisioning_changed(self, tenant: str | None = None) -> None:
        """Provisioning changed outside the provisioning API (a sandbox's reset or deletion):
        what was derived from it is read again from the store."""
        self._provisioning_changed(tenant)

    def _provisioning_changed(self, tenant: str | None = None) -> None:
        self.resolver.forget()
        self._expanded.clear()
        self._transformations.clear()
        self._multi.clear()
        self._omissions.clear()
        self.commands.forget(tenant)

    # --- measures -------------------------------------------------------------------------

    async def receive_arriving(self, transport: str, message: Message) -> None:
        """A message that came in a request of its own (HTTP, CoAP), stored with those that
        arrive while this transport's writes are under way (`arrivals.py`); raises its
        refusal as `receive` does."""
        arrivals = self._arrivals.get(transport)
        if arrivals is None:

            async def one(m: Message) -> None:
                await self.receive(
                    transport,
                    m.apikey,
                    m.device_id,
                    m.parse,
                    resource=m.resource,
                    timestamp=m.timestamp,
                )

            async def many(messages: Sequence[Message]) -> list[DalguError | None]:
                return await self.receive_batch(transport, messages)

            arrivals = self._arrivals[transport] = Arrivals(one, many)
        await arrivals.receive(message)

    async def receive(
        self,
        transport: str,
        apikey: str,
        device_id: str,
        parse: Callable[[], MeasureGroups],
        *,
        resource: str | None = None,
        timestamp: str | None = None,
    ) -> Ingested:
        """Parse, store and record one southbound message (`parse` raises on bad input)."""
        received = time.time()
        groups: MeasureGroups = ()
        try:
            groups = parse()
            done = await self.ingest(
                apikey,
                device_id,
                groups,
                resource=resource,
                timestamp=timestamp,
                transport=transport,
            )
        except DalguError as error:
            self.traffic.record(
                MessageEvent(
                    apikey,
                    device_id,
                    transport,
                    received,
                    None,
                    as_sent(groups, timestamp),
                    error.kind,
                    error.detail,
                )
            )
            raise
        self.traffic.record(
            MessageEvent(
                apikey,
                device_id,
                transport,
                received,
                time.time(),
                as_sent(groups, timestamp),
                tenant=done.tenant,
            )
        )
        return done

    async def ingest(
        self,
        apikey: str,
        device_id: str,
        groups: MeasureGroups,
        *,
        resource: str | None = None,
        timestamp: str | None = None,
        transport: str | None = None,
    ) -> Ingested:
        """Store the measure groups of one southbound message; errors are `DalguError`s.
        A device it provisions takes `transport` when its group names none."""
        binding, tenant, unprovisioned = await self.resolver.resolve(apikey, device_id, resource)
        await self._admit(tenant, device_id, unprovisioned is not None)
        entities = self._entities(binding, groups, timestamp)
        if unprovisioned is not None:  # the message is good: now the device may exist
            await self.resolver.autoprovision(unprovisioned, device_id, transport, resource)
        result = await self.entities.batch_upsert(tenant, entities, "update")
        if result.errors:
            raise result.errors[0][1]
        return Ingested(tenant, binding.entity_id, len(groups))

    async def _admit(self, tenant: str, device_id: str, new_device: bool) -> None:
        """The sandbox's quotas: a device it would add (checked first: a message refused
        for it is not counted), then the message."""
        if self.admission is None:
            return
        if new_device:
            await self.admission.admit_devices(
                tenant, 1, lambda: device_count(self.registry, tenant)
            )
        await self.admission.admit_message(tenant, device_id)

    def _entities(
        self, binding: DeviceBinding, groups: MeasureGroups, timestamp: str | None
    ) -> list[dict[str, Any]]:
        """One expanded entity fragment per measure group, in the order the device observed
        them when it gave each a time, else in the order they were sent."""
        now = now_iso()
        out: list[tuple[str | None, dict[str, Any]]] = []
        key = (binding.apikey, binding.device_id)
        expanded = self._expanded.get(key)
        if expanded is None or expanded.binding is not binding:
            expanded = self._expanded[key] = ExpandedBinding(binding, self.terms)
        transformation = self._transformation(binding)
        multi = self._multi_entity(binding)
        for values, stamp in groups:
            if binding.lazy and not values.keys().isdisjoint(binding.lazy):
                for measure in values.keys() & binding.lazy.keys():
                    self.lazy.answer(binding.apikey, binding.device_id, measure, values[measure])
                if values.keys() <= binding.lazy.keys():
                    continue  # only lazy values: nothing to store
            target = binding
            if transformation is not None:  # expressions see TimeInstant, and may give it
                values, target = transformation.apply(values)
            others: list[OtherEntity] = []
            if multi is not None:  # measures of attributes that go to other entities
                values, others = multi.split(target, values)
            mapped: str | None = None
            if target.time_measures:  # a measure mapped to TimeInstant wins over the rest
                values, mapped = _mapped_time(target, values)
            if TIME_INSTANT in values:  # the group's time, not an attribute
                values = dict(values)
                instant = values.pop(TIME_INSTANT)
                stamp = stamp or (instant if isinstance(instant, str) else str(instant))
            group_stamp = stamp or timestamp
            stamp = mapped or stamp
            device_time = utc_time(stamp or timestamp) if (stamp or timestamp) else None
            observed = device_time or observed_at(stamp or timestamp, now, binding.timestamp)
            for other in others:
                out.append(self._other_entity(other, group_stamp, now, binding.timestamp))
            entity = expanded.entity(values, observed, now) if target is binding else None
            if entity is None:  # a measure only the general mapping and parser take
                entity = self._general(target, values, observed, now, transformation)
            statics = expanded.statics
            if target.explicit != binding.explicit:
                statics = StaticAttributes(target, self.terms)
            statics.add_to(entity, observed, now)
            if not entity.keys() <= ENTITY_KEYS:  # nothing to write: no update, as the agents
                out.append((device_time, entity))
        return in_time_order(out)

    def _general(
        self,
        binding: DeviceBinding,
        values: dict[str, Any],
        observed: str | None,
        now: str,
        transformation: MeasureTransformation | None,
    ) -> Entity:
        """A measure group's entity by the general mapping and parser: a measure that does
        not fit its type, is null, or that the parser refuses alone, is left out (logged),
        as the agents leave it out; the others are written."""
        omissions = self._omissions_of(binding)
        fragment = measures_to_entity(
            binding, values, observed_at=observed, with_static=False, left_out=omissions.note
        )

        def parse(fragment: dict[str, Any]) -> Entity:
            return parse_entity(fragment, self.terms, now)

        try:
            return parse(fragment)
        except DalguError:
            if transformation is not None:  # a computed attribute's, logged as such
                fragment = transformation.without_unparsable(fragment, parse)
            return parse(omissions.without_unparsable(fragment, parse))

    def _omissions_of(self, binding: DeviceBinding) -> Omissions:
        """The binding's log of measures left out, kept per device."""
        key = (binding.apikey, binding.device_id)
        known = self._omissions.get(key)
        if known is None or known.binding.entity_id != binding.entity_id:
            known = self._omissions[key] = Omissions(binding)
        return known

    def _other_entity(
        self, other: OtherEntity, group_stamp: str | None, now: str, timestamp: bool
    ) -> tuple[str | None, Entity]:
        """Another entity's share of a measure group, observed at its own mapped time, else
        at the group's."""
        stamp = other.time or group_stamp
        device_time = utc_time(stamp) if stamp else None
        observed = device_time or observed_at(stamp, now, timestamp)
        omissions = self._omissions_of(other.binding)
        fragment = measures_to_entity(
            other.binding,
            other.values,
            observed_at=observed,
            with_static=False,
            left_out=omissions.note,
        )

        def parse(fragment: dict[str, Any]) -> Entity:
            return parse_entity(fragment, self.terms, now)

        try:
            return device_time, parse(fragment)
        except DalguError:
            return device_time, parse(omissions.without_unparsable(fragment, parse))

    def _multi_entity(self, binding: DeviceBinding) -> MultiEntity | None:
        """The binding's multi-entity attributes, compiled once per binding."""
        key = (binding.apikey, binding.device_id)
        known = self._multi.get(key)
        if known is None or known[0] is not binding:
            known = self._multi[key] = (binding, MultiEntity.of(binding))
        return known[1]

    def _transformation(self, binding: DeviceBinding) -> MeasureTransformation | None:
        """The binding's JEXL expressions, compiled once per binding."""
        key = (binding.apikey, binding.device_id)
        known = self._transformations.get(key)
        if known is None or known[0] is not binding:
            known = self._transformations[key] = (binding, MeasureTransformation.of(binding))
        return known[1]

    async def receive_batch(
        self, transport: str, messages: Sequence[Message]
    ) -> list[DalguError | None]:
        """Several southbound messages stored together.

        One write per tenant for the whole batch, in message order (a device's measures stay
        in order). For each message: None when stored, else the error that refused it. An
        error of the store itself (5xx) is raised: nothing of the batch is acknowledged.
        """
        received = time.time()
        results: list[DalguError | None] = [None] * len(messages)
        accepted: dict[str, list[tuple[int, list[dict[str, Any]], MeasureGroups]]] = {}
        for index, (apikey, device_id, parse, resource, timestamp, prefer) in enumerate(messages):
            groups: MeasureGroups = ()
            try:
                groups = tuple(parse())
                binding, tenant, unprovisioned = await self.resolver.resolve(
                    apikey, device_id, resource, prefer
                )
                await self._admit(tenant, device_id, unprovisioned is not None)
                entities = self._entities(binding, groups, timestamp)
                if unprovisioned is not None:
                    await self.resolver.autoprovision(
                        unprovisioned, device_id, transport, resource or prefer
                    )
            except DalguError as error:
                if error.status >= 500:
                    raise
                results[index] = error
                sent = as_sent(groups, timestamp)
                self.refused(transport, apikey, device_id, received, sent, error)
                continue
            accepted.setdefault(tenant, []).append((index, entities, groups))
        for tenant, items in accepted.items():
            batch = [entity for _, entities, _ in items for entity in entities]
            outcome = await self.entities.batch_upsert(tenant, batch, "update")
            failed = {entity_id: error for entity_id, error in outcome.errors}
            stored = time.time()
            for index, entities, parsed in items:
                apikey, device_id = messages[index].apikey, messages[index].device_id
                groups = as_sent(parsed, messages[index].timestamp)
                refusal = next((failed[e["id"]] for e in entities if e["id"] in failed), None)
                if refusal is not None:
                    results[index] = refusal
                    self.refused(transport, apikey, device_id, received, groups, refusal)
                else:
                    self.traffic.record(
                        MessageEvent(
                            apikey, device_id, transport, received, stored, groups, tenant=tenant
                        )
                    )
        return results

    def refused(
        self,
        transport: str,
        apikey: str,
        device_id: str,
        received: float,
        groups: MeasureGroups,
        error: DalguError,
    ) -> None:
        self.traffic.record(
            MessageEvent(
                apikey,
                device_id,
                transport,
                received,
                None,
                as_sent(groups, None),  # the groups' own device times (as_sent did the rest)
                error.kind,
                error.detail,
            ),
            # on a broker shared with other deployments the key may be theirs: not a warning
            quiet=transport == "mqtt" and isinstance(error, UnknownApiKey),
        )

    async def _binding(
        self, apikey: str, device_id: str, resource: str | None, transport: str | None = None
    ) -> tuple[DeviceBinding, str]:
        """The device's binding and tenant, provisioning it from its group if need be."""
        binding, tenant, unprovisioned = await self.resolver.resolve(apikey, device_id, resource)
        if unprovisioned is not None:
            if self.admission is not None:
                await self.admission.admit_devices(
                    tenant, 1, lambda: device_count(self.registry, tenant)
                )
            await self.resolver.autoprovision(unprovisioned, device_id, transport, resource)
        return binding, tenant

    async def binding_of(self, record: DeviceRecord) -> DeviceBinding | None:
        """How a provisioned device's measures reach its entity (its entity's id and type,
        its group's template applied), None when no group or device record binds it, or when
        its messages go to another device: one stored under another service's API key (it
        provisions nothing there, as a message would)."""
        try:
            binding, tenant, unprovisioned = await self.resolver.resolve(
                record.apikey, record.key, None
            )
        except DalguError:
            return None
        if unprovisioned is not None or tenant != record.tenant:
            return None
        return binding


def _mapped_time(
    binding: DeviceBinding, values: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """The measures less those mapped to `TimeInstant`, and the time the first one gives: as
    the IoT Agents' "TimeInstant and Timestamp flag" rules, such a mapping gives the group's
    time, over a `TimeInstant` the message carries, and is no attribute of the entity."""
    if values.keys().isdisjoint(binding.time_measures):
        return values, None
    values = dict(values)
    mapped: str | None = None
    for measure in binding.time_measures:
        if measure in values:
            raw = values.pop(measure)
            if mapped is None and raw is not None:
                mapped = raw if isinstance(raw, str) else str(raw)
    return values, mapped
