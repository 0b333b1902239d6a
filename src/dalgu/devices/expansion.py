"""Device measures straight to the store's expanded form, for the measures most devices send.

The general path maps a measure group to a compact NGSI-LD fragment (`measures_to_entity`)
and parses it as any API payload (`parse_entity`): the entity id and type, every attribute
name expanded, every attribute's type inferred and its members checked, again for each
message. For one device binding all of that but the values is the same every time, so an
`ExpandedBinding` works it out once per measure name and then writes the expanded entity
directly.

It takes numbers, integers, booleans, text and untyped measures with a scalar value, with
their unit codes and metadata, and an observedAt. For anything else (geometries,
relationships, the NGSI-LD kinds, dates, JSON objects or nulls, a name or timestamp the parser
would refuse) `entity` answers None and the caller takes the general path, which gives the
same result or the same error. Tests hold both paths to the same output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dalgu.broker.model import GEO_ATTRIBUTES, MEMBERS, Entity, is_datetime, is_uri
from dalgu.broker.parse import attribute_iri, parse_types
from dalgu.devices.mapping import (
    BOOLEAN_TYPES,
    GEO_TYPES,
    INTEGER_TYPES,
    JSON_TYPES,
    NGSI_LD_KINDS,
    NUMBER_TYPES,
    DeviceBinding,
    boolean_value,
    number_value,
)
from dalgu.devices.provisioning import AttributeMapping
from dalgu.devices.statics import StaticAttributes
from dalgu.errors import DalguError
from dalgu.ldcontext.termmap import TermMap

_SCALARS = (str, int, float)  # bool is an int
_MAX_UNTYPED = 256  # measure names an unmapped device may invent, planned at most


def _as_number(raw: Any, measure: str) -> Any:
    return number_value(raw, measure, integer=False)


def _as_integer(raw: Any, measure: str) -> Any:
    return number_value(raw, measure, integer=True)


def _as_given(raw: Any, measure: str) -> Any:
    return raw


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one measure name becomes: the attribute IRI, its value and its fixed members."""

    iri: str
    value: Callable[[Any, str], Any]
    # in the provisioned order: ("unitCode", the code) or (a sub-attribute IRI, its value)
    metadata: tuple[tuple[str, Any], ...]
    skip_value: Any = None


_SKIP = "skip"  # a measure that is never stored (lazy, or not among explicitAttrs)
_GENERAL = "general"  # a measure the general path must map


class ExpandedBinding:
    """A device binding that writes its common measures straight to the expanded form."""

    def __init__(self, binding: DeviceBinding, terms: TermMap) -> None:
        self.binding = binding
        self.terms = terms
        self._plans: dict[str, _Plan | str] = {}
        self.statics = StaticAttributes(binding, terms)
        self._types: list[str] | None = None
        if is_uri(binding.entity_id):
            try:
                self._types = parse_types(binding.entity_type, terms)
            except DalguError:
                self._types = None

    def entity(self, values: dict[str, Any], observed_at: str | None, now: str) -> Entity | None:
        """The expanded entity `parse_entity(measures_to_entity(...))` would give, or None."""
        if self._types is None or (observed_at is not None and not is_datetime(observed_at)):
            return None
        entity: Entity = {
            "id": self.binding.entity_id,
            "type": list(self._types),
            "createdAt": now,
            "modifiedAt": now,
        }
        plans = self._plans
        for measure, raw in values.items():
            plan = plans.get(measure)
            if plan is None:
                plan = self._plan(measure)
            if plan is _SKIP:
                continue
            if plan is _GENERAL or not isinstance(raw, _SCALARS):
                return None
            assert isinstance(plan, _Plan)
            if plan.skip_value is not None and raw == plan.skip_value:
                continue
            try:
                value = plan.value(raw, measure)
            except DalguError:  # the general path leaves it out, and says so
                return None
            instance: dict[str, Any] = {"type": "Property", "value": value}
            for member, value in plan.metadata:
                instance[member] = (
                    value
                    if member == "unitCode"
                    else {"type": "Property", "value": value, "createdAt": now, "modifiedAt": now}
                )
            if observed_at is not None:
                instance["observedAt"] = observed_at
            instance["createdAt"] = now
            instance["modifiedAt"] = now
            entity[plan.iri] = [instance]
        return entity

    def _plan(self, measure: str) -> _Plan | str:
        binding = self.binding
        mapping = binding.active.get(measure)
        plan: _Plan | str
        if mapping is None and measure in binding.lazy:
            plan = _SKIP
        elif mapping is None:
            explicit = binding.explicit
            if explicit is True or (isinstance(explicit, frozenset) and measure not in explicit):
                plan = _SKIP
            else:
                name = f"measure_{measure}" if measure in ("id", "type") else measure
                plan = self._attribute(name, _as_given, None, None)
        elif isinstance(binding.explicit, frozenset) and mapping.name not in binding.explicit:
            plan = _SKIP
        else:
            plan = self._mapped(mapping)
        if mapping is not None or len(self._plans) < _MAX_UNTYPED:
            self._plans[measure] = plan
        return plan

    def _mapped(self, mapping: AttributeMapping) -> _Plan | str:
        kind = mapping.type.strip()
        low = kind.lower()
        value: Callable[[Any, str], Any]
        if low in NUMBER_TYPES:
            value = _as_number
        elif low in INTEGER_TYPES:
            value = _as_integer
        elif low in BOOLEAN_TYPES:
            value = boolean_value
        elif (
            low in ("datetime", "date", *GEO_TYPES, *JSON_TYPES)
            or kind == "Relationship"
            or kind in NGSI_LD_KINDS
        ):
            return _GENERAL
        else:  # text, and any other NGSI-v2 type name: the value as the device sent it
            value = _as_given
        return self._attribute(mapping.name, value, mapping.metadata, mapping.skipValue)

    def _attribute(
        self,
        name: str,
        value: Callable[[Any, str], Any],
        metadata: dict[str, Any] | None,
        skip_value: Any,
    ) -> _Plan | str:
        try:
            iri = attribute_iri(name, self.terms)
        except DalguError:
            return _GENERAL  # the general path refuses it, with its own message
        if iri in GEO_ATTRIBUTES:
            return _GENERAL
        members: list[tuple[str, Any]] = []
        for key, meta in (metadata or {}).items():
            meta_value = meta.get("value") if isinstance(meta, dict) else meta
            if key == "unitCode":
                members.append(("unitCode", str(meta_value)))
            elif key == "observedAt":
                continue
            elif key in MEMBERS or meta_value is None:
                return _GENERAL
            elif isinstance(meta, dict) and meta.get("type") == "Relationship":
                return _GENERAL  # a sub-relationship: the general path writes its object
            else:
                try:
                    members.append((attribute_iri(key, self.terms), meta_value))
                except DalguError:
                    return _GENERAL
        return _Plan(iri, value, tuple(members), skip_value)
