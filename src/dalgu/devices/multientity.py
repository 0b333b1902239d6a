"""Multi-entity attributes: measures a device writes to other entities than its own.

As in the IoT Agent library (`doc/api.md` "Multientity support", its NGSI-LD update), an
active attribute mapping with an `entity_name` (and optionally an `entity_type`, else the
device's) goes to that entity, not to the device's: `{"object_id": "t", "name":
"temperature", "entity_name": "Room1", "entity_type": "Room"}` writes `temperature` to
`urn:ngsi-ld:Room:Room1`, created by the update when it does not exist. The name is first
read as a JEXL expression over the message (its measures, the static attributes, `id`, `type`,
`service`, `subservice`, `entity_name`, and the attributes' values by name); when it does not
parse, fails or gives nothing, the name is taken as written, as the agents take it. A name that
is not a URN becomes `urn:ngsi-ld:<entity_type>:<name>` as for the device's own entity.

An attribute named `TimeInstant` mapped to another entity gives that entity's observation time;
without one, the other entities are observed when the device's own measures are.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from dalgu.broker.model import is_uri
from dalgu.devices.expressions import EvaluationError, Expression, parse_expression
from dalgu.devices.expressions.values import UNDEFINED, from_json, to_string, truthy
from dalgu.devices.mapping import DeviceBinding, entity_id_of
from dalgu.devices.observation import TIME_INSTANT
from dalgu.devices.provisioning import AttributeMapping
from dalgu.errors import DalguError

log = logging.getLogger(__name__)

_MAX_LOGGED = 256  # distinct failures remembered per binding (each is logged once)


@dataclass(frozen=True, slots=True)
class OtherEntity:
    """One measure group's share of another entity: the binding to map it with (that
    entity's id and type, its attributes only), its measures, and its own time if mapped."""

    binding: DeviceBinding
    values: dict[str, Any]
    time: str | None


class MultiEntity:
    """The multi-entity attributes of one device binding, compiled once."""

    def __init__(self, binding: DeviceBinding) -> None:
        self.binding = binding
        self.mappings = {m: a for m, a in binding.active.items() if a.entity_name}
        self._names: dict[str, Expression | None] = {
            measure: _expression(mapping.entity_name or "")
            for measure, mapping in self.mappings.items()
        }
        self._statics = {s.name: from_json(s.value) for s in binding.static}
        self._logged: set[tuple[str, str]] = set()

    @staticmethod
    def of(binding: DeviceBinding) -> MultiEntity | None:
        """None when no attribute of the binding goes to another entity."""
        if any(mapping.entity_name for mapping in binding.active.values()):
            return MultiEntity(binding)
        return None

    def split(
        self, target: DeviceBinding, values: dict[str, Any]
    ) -> tuple[dict[str, Any], list[OtherEntity]]:
        """The measures that stay on the device's entity, and the other entities' shares
        (`target`: the binding this group is mapped with, its entity perhaps renamed)."""
        if values.keys().isdisjoint(self.mappings):
            return values, []
        own = dict(values)
        context: dict[str, Any] | None = None
        shares: dict[tuple[str, str], dict[str, Any]] = {}
        for measure, mapping in self.mappings.items():
            if measure not in own:
                continue
            name = mapping.entity_name or ""
            expression = self._names[measure]
            if expression is not None:
                if context is None:
                    context = self._context(target, values)
                name = self._evaluated(expression, context, mapping) or name
            entity_type = mapping.entity_type or target.entity_type
            entity_id = entity_id_of(name, entity_type)
            value = own.pop(measure)
            if not is_uri(entity_id):  # never written to another entity than its own
                self._note(mapping, f"{entity_id!r} is not a URI: the measure is left out")
                continue
            shares.setdefault((entity_id, entity_type), {})[measure] = value
        others = []
        for (entity_id, entity_type), share in shares.items():
            active = {m: target.active.get(m, self.mappings[m]) for m in share}
            time: str | None = None
            for measure, mapping in list(active.items()):
                if mapping.name == TIME_INSTANT:
                    raw = share.pop(measure)
                    if time is None and raw is not None:
                        time = raw if isinstance(raw, str) else str(raw)
                    del active[measure]
            if not share:  # only its time: nothing to write
                continue
            binding = dataclasses.replace(
                target,
                entity_id=entity_id,
                entity_type=entity_type,
                active=active,
                commands={},
                lazy={},
                static=(),
                time_measures=(),
            )
            others.append(OtherEntity(binding, share, time))
        return own, others

    def _context(self, target: DeviceBinding, values: dict[str, Any]) -> dict[str, Any]:
        context: dict[str, Any] = {}
        for measure, raw in values.items():
            key = f"measure_{measure}" if measure in ("id", "type") else measure
            context[key] = from_json(raw)
        context.update(self._statics)
        for measure, mapping in target.active.items():
            if measure in values:
                context[mapping.name] = from_json(values[measure])
        context.update(
            id=target.device_id,
            type=target.entity_type,
            service=target.service,
            subservice=target.service_path,
            entity_name=target.entity_id,
        )
        return context

    def _evaluated(
        self, expression: Expression, context: dict[str, Any], mapping: AttributeMapping
    ) -> str | None:
        try:
            value = expression(context)
        except EvaluationError:
            return None  # the name as written, as the agents fall back to it
        if value is UNDEFINED or not truthy(value):
            return None
        return to_string(value)

    def _note(self, mapping: AttributeMapping, reason: str) -> None:
        """Log a failure the first time this binding meets it."""
        if (mapping.name, reason) in self._logged or len(self._logged) >= _MAX_LOGGED:
            return
        self._logged.add((mapping.name, reason))
        log.warning(
            "attribute %r of device %r: entity_name %s",
            mapping.name,
            self.binding.device_id,
            reason,
            extra={"device": self.binding.device_id, "field": mapping.name, "reason": reason},
        )


def _expression(text: str) -> Expression | None:
    """The entity name as an expression, None when it does not parse as one (a URN, say):
    then it is the name as written."""
    try:
        return Expression(parse_expression(text))
    except DalguError:
        return None
