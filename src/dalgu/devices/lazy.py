"""Lazy attributes of devices: read from the device when an NGSI-LD client reads them.

A config group or device declares `lazy` attributes, as in the FIWARE IoT Agents. They are
never stored: Retrieve Entity asks the entity service's lazy attribute providers
(`dalgu.broker.lazy`), and this one asks the device, over the transport its commands use. The
request is a command named after the attribute with an empty value (UltraLight
`dev@temperature`, JSON `{"temperature": ""}`), sent through the same `CommandSink`s: an HTTP
push answers at once; an MQTT device answers on `/cmdexe` (`dev@temperature|21.5`) or by
publishing the measure on `/attrs`. A device that does not answer within the timeout, or cannot
be reached (an HTTP device without an endpoint), leaves the attribute out of the answer; the
read never fails or hangs for it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dalgu.broker.model import Entity, now_iso
from dalgu.broker.parse import parse_attributes
from dalgu.devices.commands import CommandDispatcher, CommandTarget, DeviceCommand
from dalgu.devices.mapping import attribute
from dalgu.errors import DalguError
from dalgu.ldcontext.termmap import TermMap

log = logging.getLogger(__name__)

_MISSING = object()  # a value the device did not give
_FAILED = object()  # a request that could not be sent


class LazyAttributes:
    """The device service's `LazyAttributeProvider`."""

    def __init__(self, commands: CommandDispatcher, terms: TermMap, timeout: float) -> None:
        self.commands = commands
        self.terms = terms
        self.timeout = timeout
        self._waiting: dict[tuple[str, str, str], asyncio.Future[Any]] = {}

    async def serves(self, tenant: str, entity_id: str) -> bool:
        target = (await self.commands.targets(tenant)).get(entity_id)
        return target is not None and bool(target.binding.lazy)

    async def provide(
        self, tenant: str, entity: Entity, attrs: frozenset[str] | None
    ) -> dict[str, list[dict[str, Any]]]:
        targets = await self.commands.targets(tenant)
        target = targets.get(entity["id"])
        if target is None or not target.binding.lazy:
            return {}
        wanted = [
            (measure, mapping)
            for measure, mapping in target.binding.lazy.items()
            if attrs is None or self.terms.expand(mapping.name) in attrs
        ]
        if not wanted:
            return {}
        values = await asyncio.gather(*(self._read(target, measure) for measure, _ in wanted))
        fragment: dict[str, Any] = {}
        for (measure, mapping), value in zip(wanted, values, strict=True):
            if value is _MISSING:
                continue
            try:
                fragment[mapping.name] = attribute(mapping.type, value, measure, mapping.metadata)
            except DalguError as error:
                log.warning(
                    "lazy attribute %s of %s: %s", measure, target.binding.device_id, error.detail
                )
        if not fragment:
            return {}
        return parse_attributes(fragment, self.terms, now_iso())

    def answer(self, apikey: str, device_id: str, measure: str, value: Any) -> bool:
        """A device gave a value: True when a read was waiting for it."""
        future = self._waiting.pop((apikey, device_id, measure), None)
        if future is None or future.done():
            return False
        future.set_result(value)
        return True

    async def _read(self, target: CommandTarget, measure: str) -> Any:
        binding = target.binding
        if target.transport == "HTTP" and not target.endpoint:
            return _MISSING  # a polling device cannot be asked now
        key = (binding.apikey, binding.device_id, measure)
        future = self._waiting.get(key)
        if future is None:  # no read of it under way: ask the device
            future = self._waiting[key] = asyncio.get_running_loop().create_future()
            answered = await self._ask(target, measure)
            if answered is _FAILED:
                if self._waiting.get(key) is future:
                    del self._waiting[key]
                future.cancel()  # others waiting on this read stop too
                return _MISSING
            if answered is not None:
                self.answer(*key, answered)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except asyncio.CancelledError:
            if future.cancelled():  # the request could not be sent
                return _MISSING
            raise
        except TimeoutError:
            log.warning(
                "device %s did not give lazy attribute %s within %.1f s",
                binding.device_id,
                measure,
                self.timeout,
            )
            if self._waiting.get(key) is future:
                del self._waiting[key]
            return _MISSING

    async def _ask(self, target: CommandTarget, measure: str) -> Any:
        """Send the request: the value when the transport answers at once (HTTP push), None
        when the answer comes later (MQTT), _FAILED when it could not be sent."""
        binding = target.binding
        sink = self.commands.sinks.get(target.transport)
        if sink is None:
            log.warning("no %s transport runs to read lazy attributes", target.transport)
            return _FAILED
        request = DeviceCommand(
            target.tenant,
            binding.entity_id,
            binding.apikey,
            binding.device_id,
            measure,
            None if target.payload == "ul" else "",  # UltraLight `th1@t`, JSON `{"t": ""}`
            target.payload,
            target.transport,
            target.endpoint,
            target.service_path,
        )
        try:
            answer = await asyncio.wait_for(sink(request), self.timeout)
        except (DalguError, TimeoutError) as error:
            detail = error.detail if isinstance(error, DalguError) else "timed out"
            log.warning("lazy attribute %s of %s: %s", measure, binding.device_id, detail)
            return _FAILED
        if answer is None and target.transport == "HTTP":
            return _FAILED  # the push was answered without the value
        return answer
