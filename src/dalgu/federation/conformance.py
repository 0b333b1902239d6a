"""Backwards compatibility of forwarded payloads (clauses 4.3.6.6 `ngsildConformance` and
4.3.6.8): an entity, or attribute, as a context source conformant to an older version of
NGSI-LD reads it, by the fallbacks of Tables 4.3.6.8-1 to 4.3.6.8-3.

- before 1.9: `expiresAt` (entity and attribute) and a Property's `valueType` are removed;
- before 1.8: JsonProperty, VocabProperty and ListProperty become Properties (their `json`,
  `vocab` or `valueList` the value), a ListRelationship a Relationship (its `objectList` the
  object) and `objectType` is removed;
- before 1.4: `scope` is removed and a LanguageProperty becomes a Property (its `languageMap`
  the value);
- before 1.3: `datasetId`, `observedAt` and `unitCode` are removed, an attribute keeps one
  instance (the default one, else the first) and an entity one type (the first).

Sub-attributes are attributes: they fall back too. A concise bare value stays as it is.
"""

from __future__ import annotations

import re
from typing import Any

Version = tuple[int, int]

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)\s*$")
#: the members an attribute's kind is inferred from, when it has no `type` (concise form)
_INFERRED = (
    ("objectList", "ListRelationship"),
    ("object", "Relationship"),
    ("languageMap", "LanguageProperty"),
    ("vocab", "VocabProperty"),
    ("valueList", "ListProperty"),
    ("json", "JsonProperty"),
    ("value", "Property"),
)
#: kinds introduced in 1.8 and 1.4, the kind they fall back to, and their value member
_FALLBACKS: dict[str, tuple[Version, str, str, str]] = {
    "JsonProperty": ((1, 8), "Property", "json", "value"),
    "VocabProperty": ((1, 8), "Property", "vocab", "value"),
    "ListProperty": ((1, 8), "Property", "valueList", "value"),
    "ListRelationship": ((1, 8), "Relationship", "objectList", "object"),
    "LanguageProperty": ((1, 4), "Property", "languageMap", "value"),
}
#: members introduced in a version: removed for an older one
_REMOVED: tuple[tuple[Version, str], ...] = (
    ((1, 9), "expiresAt"),
    ((1, 9), "valueType"),
    ((1, 8), "objectType"),
    ((1, 3), "datasetId"),
    ((1, 3), "observedAt"),
    ((1, 3), "unitCode"),
)
_MEMBERS = frozenset(
    {
        "type",
        "value",
        "object",
        "objectList",
        "languageMap",
        "vocab",
        "valueList",
        "json",
        "lang",
        "instanceId",
        "createdAt",
        "modifiedAt",
        "deletedAt",
    }
    | {member for _, member in _REMOVED}
)
_ENTITY_MEMBERS = frozenset(
    {"id", "@id", "type", "@type", "scope", "@context", "expiresAt"}
    | {"createdAt", "modifiedAt", "deletedAt"}
)


def version(text: str) -> Version | None:
    """`major.minor` (clause 4.3.6.8); None for anything else."""
    found = _VERSION.match(text)
    return (int(found.group(1)), int(found.group(2))) if found else None


def entity(doc: Any, to: Version) -> Any:
    """An entity or entity fragment as NGSI-LD `to` has it."""
    if not isinstance(doc, dict):
        return doc
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if (key == "expiresAt" and to < (1, 9)) or (key == "scope" and to < (1, 4)):
            continue
        if key in ("type", "@type") and to < (1, 3) and isinstance(value, list) and value:
            out[key] = value[0]
        elif key in _ENTITY_MEMBERS:
            out[key] = value
        else:
            out[key] = attribute(value, to)
    return out


def attribute(value: Any, to: Version) -> Any:
    """An attribute: one instance, several, or a concise bare value."""
    if isinstance(value, list):
        instances = [v for v in value if _is_instance(v)]
        if to < (1, 3) and instances and len(instances) == len(value):
            default = [i for i in instances if "datasetId" not in i]
            return instance((default or instances)[0], to)
        return [instance(v, to) if _is_instance(v) else v for v in value]
    return instance(value, to) if _is_instance(value) else value


def instance(value: Any, to: Version) -> Any:
    """One attribute instance (or a partial one), its sub-attributes with it."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for member, inner in value.items():
        if member in _MEMBERS:
            out[member] = inner
        else:
            out[member] = attribute(inner, to)
    for since, member in _REMOVED:
        if to < since:
            out.pop(member, None)
    kind = _kind(out)
    fallback = _FALLBACKS.get(kind or "")
    if fallback is not None and to < fallback[0]:
        _, plain, held, member = fallback
        out = {(member if k == held else k): v for k, v in out.items()}
        if held == "objectList" and isinstance(out.get("object"), list):
            # its items are URIs or `{"object": URI}` (clause 4.5.22); an object lists URIs
            out["object"] = [o.get("object") if isinstance(o, dict) else o for o in out["object"]]
        if "type" in out:
            out["type"] = plain
    return out


def _kind(instance: dict[str, Any]) -> str | None:
    declared = instance.get("type")
    if isinstance(declared, str):
        return declared
    return next((kind for member, kind in _INFERRED if member in instance), None)


def _is_instance(value: Any) -> bool:
    """An attribute instance, not a concise Property's bare value (a geometry, an object)."""
    if not isinstance(value, dict):
        return False
    if "coordinates" in value and isinstance(value.get("type"), str):
        return False
    return "type" in value or any(member in value for member, _ in _INFERRED)
