"""A device's static attributes, sent with every measure update as the IoT Agents send them.

The IoT Agent library adds a device's and its config group's `static_attributes` to each
entity update it makes for a measure group (with the group's observation time, as for the
measures), so a static attribute changed through the provisioning API reaches an existing
entity with the device's next message, and one deleted from the entity comes back. A measure
of the same name wins. With `explicitAttrs` as a list, only the static attributes it names
are sent.

A static attribute whose value does not fit its declared type (a `Number` that is no number,
an object for a `Boolean`) is left out and logged, as the agents' NGSI-LD conversion drops it:
the device's measures, and its other static attributes, are stored all the same.

The static attributes are expanded once per device binding; each update gets a copy with its
own timestamps.
"""

from __future__ import annotations

import logging
from typing import Any

from dalgu.broker.model import Entity
from dalgu.broker.parse import parse_entity
from dalgu.devices.mapping import DeviceBinding, attribute
from dalgu.errors import DalguError
from dalgu.ldcontext.termmap import TermMap

log = logging.getLogger(__name__)

_STAMP = "1970-01-01T00:00:00.000Z"  # where each copy puts its own time
_SYSTEM = ("createdAt", "modifiedAt")
_VALUES = ("value", "object", "json", "languageMap", "vocab", "valueList")  # not sub-attributes


class StaticAttributes:
    """The expanded static attributes of one device binding."""

    def __init__(self, binding: DeviceBinding, terms: TermMap) -> None:
        self.binding = binding
        self.terms = terms
        self._expanded: dict[str, list[dict[str, Any]]] | None = None

    def add_to(self, entity: Entity, observed_at: str | None, now: str) -> None:
        """Put the static attributes into a measure group's expanded entity (an attribute
        the measures gave is left as it is); raises the parser's error for a static value
        it refuses, as creating the entity did."""
        for iri, instances in self._attributes().items():
            if iri in entity:
                continue
            copies = []
            for instance in instances:
                copy = _restamped(instance, now)
                if observed_at is not None:
                    copy["observedAt"] = observed_at
                copies.append(copy)
            entity[iri] = copies

    def _attributes(self) -> dict[str, list[dict[str, Any]]]:
        if self._expanded is None:
            binding = self.binding
            doc: dict[str, Any] = {"id": binding.entity_id, "type": binding.entity_type}
            doc.update(fitting_statics(binding, self.terms))
            parsed = parse_entity(doc, self.terms, _STAMP)
            self._expanded = {
                key: value
                for key, value in parsed.items()
                if key not in ("id", "type", *_SYSTEM) and isinstance(value, list)
            }
        return self._expanded


def fitting_statics(binding: DeviceBinding, terms: TermMap) -> dict[str, dict[str, Any]]:
    """The binding's static attributes that can be written (and that its `explicitAttrs`
    list names), as compact NGSI-LD attributes by name; each one left out is logged."""
    out: dict[str, dict[str, Any]] = {}
    for static in binding.static:
        if isinstance(binding.explicit, frozenset) and static.name not in binding.explicit:
            continue
        try:
            compact = attribute(static.type, static.value, static.name, static.metadata)
            alone = {"id": binding.entity_id, "type": binding.entity_type, static.name: compact}
            parse_entity(alone, terms, _STAMP)
        except DalguError as error:
            log.warning(
                "static attribute %r of device %r left out: %s",
                static.name,
                binding.device_id,
                error.detail,
                extra={"device": binding.device_id, "field": static.name, "reason": error.detail},
            )
            continue
        out[static.name] = compact
    return out


def _restamped(value: dict[str, Any], now: str) -> dict[str, Any]:
    """A copy of an expanded attribute (and its sub-attributes) created and modified `now`."""
    out: dict[str, Any] = {}
    for key, member in value.items():
        if key in _SYSTEM:
            out[key] = now
        elif isinstance(member, dict) and key not in _VALUES:
            out[key] = _restamped(member, now)
        else:
            out[key] = member
    return out
