"""Rules of the R4 definitions that `fhir.resources`' models do not enforce, checked on the
validated model and the resource as sent (pure: no store):

- a literal reference (`Type/id`, or an absolute URL ending so) names a type its element
  allows (`Observation.subject` is `Reference(Patient | Group | Device | Location)`): the
  models' lists (`enum_reference_types`, R4B's), with R4's own where R4B widened it;
- a `uri` (`url`, `canonical`, `oid`, `uuid`) has no whitespace (datatypes.html: `\\S*`);
- dom-3: a contained resource is referred to from elsewhere in its resource, or refers to
  the container (`#`).
"""

from __future__ import annotations

import re
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel

from dalgu.fhir.model import Resource
from dalgu.fhir.wire import json_text

#: R4's target types where R4B's model lists more (R4B added Organization, Procedure,
#: Practitioner, Medication and Substance to Observation.subject)
R4_TARGETS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Observation", "subject"): ("Patient", "Group", "Device", "Location"),
}
_URI_KINDS = frozenset({"Uri", "Url", "Canonical", "Oid", "Uuid"})
_LITERAL = re.compile(r"(?:.*/)?(?P<type>[A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[^/]+)?")
_SPACE = re.compile(r"\s")
_CORE_DEFINITIONS = "http://hl7.org/fhir/StructureDefinition/"
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]+")
_REWRITTEN_URIS = frozenset({"Uri", "Url", "Oid", "Uuid", "UuidVersion"})


def _kinds(annotation: Any) -> set[str]:
    """The names of the `Annotated` markers anywhere in a field's annotation (`Uri`, ...)."""
    found: set[str] = set()
    if typing.get_origin(annotation) is typing.Annotated:
        found |= {type(marker).__name__ for marker in annotation.__metadata__}
    for argument in typing.get_args(annotation):
        found |= _kinds(argument)
    return found


@cache
def _rules(model: type[BaseModel]) -> dict[str, tuple[str, tuple[str, ...] | None, bool]]:
    """Field name -> (JSON name, allowed reference types or None, whether a uri)."""
    out: dict[str, tuple[str, tuple[str, ...] | None, bool]] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        key = info.alias or name
        targets = extra.get("enum_reference_types")
        allowed = R4_TARGETS.get((model.__name__, key))
        if allowed is None and isinstance(targets, list) and "Resource" not in targets:
            allowed = tuple(str(t) for t in targets)
        out[name] = (key, allowed, bool(_kinds(info.annotation) & _URI_KINDS))
    return out


@cache
def uri_fields(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> JSON name of the model's elements of type uri, url, oid or uuid (what a
    transaction rewrites when it names an entry; canonicals are not rewritten)."""
    return {
        name: info.alias or name
        for name, info in model.model_fields.items()
        if (kinds := _kinds(info.annotation)) & _REWRITTEN_URIS and "Canonical" not in kinds
    }


def model_problems(model: BaseModel, path: str) -> list[str]:
    """Reference target types and uris of a validated model and every element in it."""
    return [p for found in field_problems(model, path).values() for p in found]


def field_problems(
    model: BaseModel, path: str, skip: frozenset[str] = frozenset()
) -> dict[str, list[str]]:
    """`model_problems` by the JSON name of the model's field they are in, but `skip`'s."""
    out: dict[str, list[str]] = {}
    for name, (key, allowed, uri) in _rules(type(model)).items():
        value = getattr(model, name, None)
        if value is None or key in skip:
            continue
        problems = out.setdefault(key, [])
        where = f"{path}.{key}"
        items = value if isinstance(value, list) else [value]
        for position, item in enumerate(items):
            at = f"{where}[{position}]" if isinstance(value, list) else where
            if uri and isinstance(item, str) and _SPACE.search(item):
                problems.append(f"{at}: {json_text(item)} is not a uri (it holds whitespace)")
            if not isinstance(item, BaseModel):
                continue
            if type(item).__name__ == "Reference":
                problems += _reference_problems(item, at, allowed)
            problems += model_problems(item, at)
    return {key: problems for key, problems in out.items() if problems}


def _reference_problems(item: BaseModel, at: str, allowed: tuple[str, ...] | None) -> list[str]:
    """A literal reference to a type its element does not allow; a `Reference.type` the
    element does not allow, or that is not the type of its literal reference (R4
    Reference.type: "both SHALL be consistent")."""
    problems = []
    reference = getattr(item, "reference", None)
    match = _LITERAL.fullmatch(reference) if isinstance(reference, str) else None
    if allowed is not None and match is not None and match["type"] not in allowed:
        problems.append(
            f"{at}: {reference} is a {match['type']}; the element refers to {', '.join(allowed)}"
        )
    declared = getattr(item, "type", None)
    if isinstance(declared, str):
        # a FHIR resource type by its name or its StructureDefinition; another absolute URL
        # is a logical model's, which this server does not know
        kind = declared.removeprefix(_CORE_DEFINITIONS)
        if _TYPE_NAME.fullmatch(kind):
            if match is not None and match["type"] != kind:
                problems.append(
                    f"{at}.type: {kind} is not the type of its reference {reference}"
                    " (R4 Reference.type: both SHALL be consistent)"
                )
            elif allowed is not None and kind not in allowed:
                problems.append(f"{at}.type: {kind}; the element refers to {', '.join(allowed)}")
    return problems


def _strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {s for member in value.values() for s in _strings(member)}
    if isinstance(value, list):
        return {s for member in value for s in _strings(member)}
    return {value} if isinstance(value, str) else set()


def contained_problems(resource: Resource, path: str) -> list[str]:
    """dom-3: each contained resource that nothing of the resource refers to (`#id`, as a
    reference, canonical or uri) and that does not refer to its container (`#`)."""
    contained = resource.get("contained")
    if not isinstance(contained, list):
        return []
    outside = _strings({k: v for k, v in resource.items() if k != "contained"})
    problems = []
    for position, inner in enumerate(contained):
        if not isinstance(inner, dict):
            continue
        others = [c for n, c in enumerate(contained) if n != position]
        named = f"#{inner.get('id')}"
        if named in outside or named in _strings(others) or "#" in _strings(inner):
            continue
        problems.append(
            f"{path}.contained[{position}]: {inner.get('resourceType')} {named} is referred to"
            " from nowhere in the resource (dom-3)"
        )
    return problems
