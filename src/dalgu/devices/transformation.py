"""Measure transformation: a device binding's JEXL expressions applied to each measure group,
as the FIWARE IoT Agents (iotagent-node-lib 4.x, NGSI-LD) apply them.

The context an expression sees holds the group's measures by the name the device sent
(`id` and `type` as `measure_id`, `measure_type`), the static attributes by name, and `id`
(the device id), `type` (the entity type), `service`, `subservice` (the service path),
`entity_name`, and `metadata.<attribute>.<name>` for provisioned metadata. The group's
`entityNameExp` names the entity the group is written to (a name that is not an
`urn:ngsi-ld:` URN becomes `urn:ngsi-ld:<type>:<name>`, as the agents amend it). Then each
active attribute, in provisioning order, puts its measure into the context under its
attribute name and, when it has an `expression`, replaces it with the expression's value
(evaluated with every message, whether or not its measure came: `a|substr(0,3)` of a missing
`a` is `"und"`), so later expressions read earlier results. Finally an `explicitAttrs` given
as an expression picks what is written: true, false, or a list of attribute names and
`{object_id: ...}` objects (a measure no attribute maps is then dropped, listed or not).

An expression that fails, or whose value is null, undefined or NaN, leaves its attribute out
of the update (as the agents do) and is logged once per device, attribute and reason; so is a
value that does not fit the attribute's type. The message and its other attributes are
stored. A failing `entityNameExp` keeps the device's own entity (so does one giving a name
that makes no URI), a failing `explicitAttrs` is false (the agents' fallback).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dalgu.broker.model import is_uri
from dalgu.devices.expressions import (
    UNDEFINED,
    EvaluationError,
    Expression,
    parse_expression,
)
from dalgu.devices.expressions.values import from_json, to_json, to_string, truthy
from dalgu.devices.mapping import DeviceBinding, attribute
from dalgu.devices.observation import TIME_INSTANT
from dalgu.devices.provisioning import AttributeMapping
from dalgu.errors import DalguError

log = logging.getLogger(__name__)

_URN = "urn:ngsi-ld:"
_MAX_LOGGED = 256  # distinct failures remembered per binding (each is logged once)
_FAILED = object()  # an expression that could not be evaluated (already logged)


@dataclass(frozen=True, slots=True)
class _Computed:
    """An active attribute with expressions: its own and its metadata's."""

    mapping: AttributeMapping
    value: Expression | None
    metadata: tuple[tuple[str, Expression], ...]


class MeasureTransformation:
    """The compiled expressions of one device binding, applied to its measure groups."""

    def __init__(self, binding: DeviceBinding) -> None:
        self.binding = binding
        self.entity_name = _tree(binding.entity_name_exp)
        self.explicit = _tree(binding.explicit_exp)
        self.attributes = tuple(_computed(m) for m in binding.active.values())
        self._logged: set[tuple[str, str]] = set()
        base: dict[str, Any] = {}
        metadata: dict[str, dict[str, Any]] = {}
        for static in binding.static:
            base[static.name] = from_json(static.value)
            if static.metadata:
                metadata[static.name] = _metadata_values(static.metadata)
        for mapping in binding.active.values():
            if mapping.metadata:
                metadata.setdefault(mapping.name, {}).update(_metadata_values(mapping.metadata))
        self._statics = base
        self._metadata = metadata

    @staticmethod
    def of(binding: DeviceBinding) -> MeasureTransformation | None:
        """The binding's transformation, None when it has no expression at all."""
        transformation = MeasureTransformation(binding)
        busy = transformation.entity_name or transformation.explicit
        if busy or any(c.value or c.metadata for c in transformation.attributes):
            return transformation
        return None

    def apply(self, values: dict[str, Any]) -> tuple[dict[str, Any], DeviceBinding]:
        """The measure group to map and the binding to map it with: the device's own when
        only values changed, a copy of it with this group's entity id, `explicitAttrs` or
        computed metadata otherwise."""
        binding = self.binding
        context = self._context(values)
        entity_id = binding.entity_id
        if self.entity_name is not None:
            name = self._evaluate(self.entity_name, context, "entityNameExp")
            if name is not _FAILED and truthy(name):
                text = to_string(name)
                named = text if text.startswith(_URN) else f"{_URN}{binding.entity_type}:{text}"
                if is_uri(named):
                    context["entity_name"] = text
                    entity_id = named
                else:  # the broker would refuse the message: the device's own entity
                    self._note("entityNameExp", f"{named!r} is not a URI")
        for lazy in binding.lazy.values():
            _put(context, lazy.name, values.get(lazy.measure, UNDEFINED))
        out = dict(values)
        active = binding.active
        for computed in self.attributes:
            mapping = computed.mapping
            raw = values.get(mapping.measure, UNDEFINED)
            _put(context, mapping.name, from_json(raw))
            if computed.value is not None:
                where = f"attribute {mapping.name!r}"
                result = self._evaluate(computed.value, context, where)
                result = None if result is _FAILED else self._fitting(mapping, _sent(result))
                if result is None:
                    out.pop(mapping.measure, None)
                else:
                    out[mapping.measure] = result
                _put(context, mapping.name, from_json(result))
            if computed.metadata:
                metadata = dict(mapping.metadata or {})
                for key, tree in computed.metadata:
                    where = f"metadata {key!r} of attribute {mapping.name!r}"
                    member = metadata[key]
                    computed_value = self._evaluate(tree, context, where)
                    value = None if computed_value is _FAILED else _sent(computed_value)
                    if value is None:  # a sub-attribute is never null: left out
                        if computed_value is not _FAILED:
                            self._note(where, "the expression gave null, undefined or NaN")
                        del metadata[key]
                        continue
                    kept = {k: v for k, v in member.items() if k != "expression"}
                    metadata[key] = {**kept, "value": value}
                    context.setdefault("metadata", {}).setdefault(mapping.name, {})[key] = value
                if active is binding.active:
                    active = dict(active)
                active[mapping.measure] = mapping.model_copy(update={"metadata": metadata})
        explicit = binding.explicit
        if self.explicit is not None:
            chosen = self._evaluate(self.explicit, context, "explicitAttrs")
            explicit = False if chosen is _FAILED else self._explicit(chosen)
            if isinstance(explicit, frozenset):  # a measure no attribute maps is dropped,
                # even when the list names it, as the agents drop it
                provisioned = binding.active.keys() | binding.lazy.keys() | {TIME_INSTANT}
                out = {k: v for k, v in out.items() if k in provisioned}
        if (
            entity_id == binding.entity_id
            and explicit == binding.explicit
            and active is binding.active
        ):
            return out, binding
        return out, dataclasses.replace(
            binding, entity_id=entity_id, explicit=explicit, active=active
        )

    def without_unparsable(
        self, fragment: dict[str, Any], parse: Callable[[dict[str, Any]], Any]
    ) -> dict[str, Any]:
        """The entity fragment less the computed attributes that `parse` (the broker's
        parser) refuses alone, such as a geometry built from a missing measure: an
        expression's value may leave its attribute out, never the message."""
        computed = {c.mapping.name for c in self.attributes if c.value or c.metadata}
        kept = dict(fragment)
        for name in computed & fragment.keys():
            try:
                parse({"id": fragment["id"], "type": fragment["type"], name: fragment[name]})
            except DalguError as error:
                self._note(f"attribute {name!r}", error.detail)
                del kept[name]
        return kept

    def _context(self, values: Mapping[str, Any]) -> dict[str, Any]:
        binding = self.binding
        context: dict[str, Any] = {}
        for measure, raw in values.items():
            _put(context, f"measure_{measure}" if measure in ("id", "type") else measure, raw)
        for name, value in self._statics.items():
            _put(context, name, value)
        context.update(
            id=binding.device_id,
            type=binding.entity_type,
            service=binding.service,
            subservice=binding.service_path,
            entity_name=binding.entity_id,
        )
        if self._metadata:
            context["metadata"] = {k: dict(v) for k, v in self._metadata.items()}
        return context

    def _evaluate(self, expression: Expression, context: Mapping[str, Any], where: str) -> Any:
        try:
            return expression(context)
        except EvaluationError as error:
            self._note(where, f"the expression failed: {error}")
            return _FAILED

    def _fitting(self, mapping: AttributeMapping, value: Any) -> Any:
        """The computed value when it fits the attribute's type, else None (left out)."""
        if value is None:
            self._note(f"attribute {mapping.name!r}", "the expression gave null, undefined or NaN")
            return None
        try:
            attribute(mapping.type, value, mapping.measure)
        except DalguError as error:
            self._note(f"attribute {mapping.name!r}", error.detail)
            return None
        return value

    def _explicit(self, value: Any) -> bool | frozenset[str]:
        if isinstance(value, bool):
            return value
        if not isinstance(value, list):
            self._note("explicitAttrs", "the expression gave neither a boolean nor a list")
            return False
        names: set[str] = set()
        for item in value:
            if isinstance(item, str):
                names.add(item)
            elif isinstance(item, dict) and "object_id" in item:
                wanted = item["object_id"]
                names.update(m.name for m in self.binding.active.values() if m.measure == wanted)
        return frozenset(names)

    def _note(self, where: str, reason: str) -> None:
        """Log a failure the first time this binding meets it."""
        key = (where, reason)
        if key in self._logged or len(self._logged) >= _MAX_LOGGED:
            return
        self._logged.add(key)
        binding = self.binding
        log.warning(
            "JEXL expression of device %r: %s: %s (left out of the update)",
            binding.device_id,
            where,
            reason,
            extra={
                "apikey": binding.apikey[:4] + "…",
                "device": binding.device_id,
                "field": where,
                "reason": reason,
            },
        )


def _tree(text: str | None) -> Expression | None:
    """The compiled expression, None for none (null or blank, which the agents skip)."""
    return None if text is None or not text.strip() else Expression(parse_expression(text))


def _computed(mapping: AttributeMapping) -> _Computed:
    metadata = tuple(
        (key, Expression(parse_expression(member["expression"])))
        for key, member in (mapping.metadata or {}).items()
        if isinstance(member, dict)
        and isinstance(member.get("expression"), str)
        and member["expression"].strip()
    )
    return _Computed(mapping, _tree(mapping.expression), metadata)


def _metadata_values(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: from_json(member.get("value") if isinstance(member, dict) else member)
        for key, member in metadata.items()
    }


def _put(context: dict[str, Any], name: str, value: Any) -> None:
    """Set a context member; null and NaN are left out (the agents delete them, so that an
    expression sees them as undefined)."""
    if value is None or value is UNDEFINED or (isinstance(value, float) and math.isnan(value)):
        context.pop(name, None)
    else:
        context[name] = from_json(value)


def _sent(value: Any) -> Any:
    """An expression's value as JSON, None when the agents would send nothing."""
    if value is UNDEFINED or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    tree = to_json(value)
    return None if tree is UNDEFINED else tree
