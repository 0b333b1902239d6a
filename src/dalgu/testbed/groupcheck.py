"""Does the watched config group write what the profile says? The `mapping` check.

A run judges the payloads devices send; what the city gets is what the config group makes of
them: the entity type, each measure's attribute name, type and unit. A group that maps `p10`
to `dust` as Text, where the profile says `pm10` as a Number in GQ, makes data the city's
consumers cannot read, whatever the devices send. `mapping_check` compares the group of the
run's API key that reads the profile's payload (its resource's, else one with no resource)
with the profile. A device's own provisioning may override its group's mappings; those are
not compared. Pure functions: nothing here does I/O.
"""

from __future__ import annotations

from typing import Any

from dalgu.devices.mapping import BOOLEAN_TYPES, INTEGER_TYPES, NUMBER_TYPES, TEXT_TYPES
from dalgu.testbed.conformance import Check, _tally
from dalgu.testbed.profile import DeviceProfile, MeasureSpec

_KINDS = {
    **dict.fromkeys(NUMBER_TYPES, "Number"),
    **dict.fromkeys(INTEGER_TYPES, "Integer"),
    **dict.fromkeys(BOOLEAN_TYPES, "Boolean"),
    **dict.fromkeys(TEXT_TYPES - {"property"}, "Text"),
    "geo:point": "geo:point",
    "point": "geo:point",
    "geoproperty": "geo:point",
    "listproperty": "ListProperty",
    "array": "ListProperty",
}


def mapping_check(profile: DeviceProfile, groups: list[dict[str, Any]]) -> Check:
    """The run's config group (docs as provisioned, with `resource`) against the profile."""
    resource = "/iot/json" if profile.payload == "json" else "/iot/d"
    group = next((g for g in groups if g.get("resource") == resource), None)
    group = group or next((g for g in groups if not g.get("resource")), None)
    if group is None:
        return Check("mapping", "n/a", f"no config group of the key reads {resource}")
    where = f"config group {group.get('resource') or '(no resource)'}"
    problems: list[str] = []
    entity_type = group.get("entity_type")
    if entity_type != profile.entity_type:
        problems.append(
            f"{where}: entity_type {entity_type!r}, the profile says {profile.entity_type!r}"
        )
    mappings = [a for a in group.get("attributes") or [] if isinstance(a, dict)]
    for spec in profile.measures:
        mapped = next(
            (a for a in mappings if (a.get("object_id") or a.get("name")) == spec.object_id), None
        )
        problems += _measure(where, spec, mapped)
    return _tally(
        "mapping",
        problems,
        f"{where} maps {len(profile.measures)} measures to type {entity_type}",
    )


def _measure(where: str, spec: MeasureSpec, mapped: dict[str, Any] | None) -> list[str]:
    said = f"the profile says {spec.name} ({spec.type}{f', {spec.unit}' if spec.unit else ''})"
    if mapped is None:
        return [f"{where}: {spec.object_id} is not mapped (written as {spec.object_id!r}); {said}"]
    out = []
    if mapped.get("name") != spec.name:
        out.append(f"{where}: {spec.object_id} → {mapped.get('name')}; {said}")
    kind = _KINDS.get(str(mapped.get("type", "")).lower())
    if kind is not None and kind != spec.type and {kind, spec.type} != {"Number", "Integer"}:
        out.append(f"{where}: {spec.object_id} typed {mapped.get('type')}; {said}")
    unit = ((mapped.get("metadata") or {}).get("unitCode") or {}).get("value")
    if spec.unit and unit != spec.unit:
        out.append(f"{where}: {spec.object_id} in unit {unit or 'none'}; {said}")
    return out
