"""Every resource written is checked against the FHIR models of `fhir.resources` before it is
stored: structure, cardinalities, data types (dates, ids, references), the required code
bindings those models leave as plain strings, and what FHIR's JSON format asks beyond the
models (`wire`: primitives of their JSON type, a narrative without scripts).

`fhir.resources` provides R4B (4.3.0) models for this (its R4 4.0.1 models are in releases
that need pydantic 1); R4B keeps R4's shape for every resource type served here. The package
costs ~0.3 s to import, so it is imported on the first write, not at start-up.

Validation costs ~250 us for a vital-sign Observation, most of it building the sub-models of
elements that repeat from one resource to the next (the same `code`, `category`, `subject`).
A field's validation does not depend on the rest of the resource, so an element seen before
(same type, field and JSON) is passed as the model instance validated then: the resource-level
rules (choice types, nulls) still run on every resource, and the cost halves.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from dalgu.errors import BadRequestData, InvalidResource
from dalgu.fhir import decimals
from dalgu.fhir.constraints import contained_problems, field_problems
from dalgu.fhir.model import RESOURCE_TYPES, Resource
from dalgu.fhir.wire import (
    control_character_problems,
    json_text,
    json_type_problems,
    narrative_problems,
    null_problems,
    without_empty,
)

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

#: required bindings the models do not enforce: (type, element) -> codes
REQUIRED_CODES: dict[tuple[str, str], frozenset[str]] = {
    ("Patient", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("Practitioner", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("Observation", "status"): frozenset(
        {"registered", "preliminary", "final", "amended", "corrected", "cancelled"}
        | {"entered-in-error", "unknown"}
    ),
    ("Consent", "status"): frozenset(
        {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}
    ),
    ("Encounter", "status"): frozenset(
        {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled"}
        | {"entered-in-error", "unknown"}
    ),
    ("Device", "status"): frozenset({"active", "inactive", "entered-in-error", "unknown"}),
    ("MedicationStatement", "status"): frozenset(
        {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold"}
        | {"unknown", "not-taken"}
    ),
}


def valid_id(resource_id: str) -> bool:
    return bool(_ID.fullmatch(resource_id))


@cache
def resource_model(type_name: str) -> Any:
    """The `fhir.resources` model class of a resource type (R4B's)."""
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(type_name)


_SEEN_LIMIT = 8192
#: (type, field, JSON) -> the element validated then, and its `field_problems`
_seen: dict[tuple[str, str, bytes], tuple[Any, list[str]]] = {}


def _validate_model(type_name: str, resource: Resource) -> list[str]:
    """Problems of the resource's JSON types, reference targets and uris (the model's own
    errors raise)."""
    given: dict[str, Any] = {}
    fresh: list[tuple[str, bytes]] = []
    problems: list[str] = []
    known_fields: set[str] = set()
    for name, value in resource.items():
        if isinstance(value, (dict, list)):
            key = decimals.dumps(value)
            known = _seen.get((type_name, name, key))
            if known is not None:
                given[name] = known[0]
                problems += known[1]
                known_fields.add(name)
                continue
            fresh.append((name, key))
        given[name] = value
    model = resource_model(type_name).model_validate(given)
    by_field = field_problems(model, type_name, frozenset(known_fields))
    problems += [p for name, found in by_field.items() for p in found if name not in known_fields]
    if len(_seen) > _SEEN_LIMIT:
        _seen.clear()
    for name, key in fresh:
        element = getattr(model, name, None)
        if element is not None:
            _seen[(type_name, name, key)] = (element, by_field.get(name, []))
    return problems + json_type_problems(model, resource, type_name)


def validate(type_name: str, body: Any) -> Resource:
    """The resource if it is a valid `type_name` (without the empty arrays and empty
    objects FHIR JSON leaves out); BadRequestData (400) when it is not a resource of
    that type at all, InvalidResource (422) with every problem when its content is not
    valid."""
    if type_name not in RESOURCE_TYPES:
        raise BadRequestData(f"{type_name} is not a resource type this server keeps")
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object (a FHIR resource)")
    if body.get("resourceType") != type_name:
        given = body.get("resourceType")
        if given is None:
            raise BadRequestData(f"the resource has no resourceType (it must be {type_name})")
        raise BadRequestData(f"resourceType is {json_text(given)}, not {type_name}")
    resource: Resource = without_empty(body)
    resource_id = resource.get("id")
    if resource_id is not None and (not isinstance(resource_id, str) or not valid_id(resource_id)):
        raise InvalidResource(
            f"id {json_text(resource_id)} is not a FHIR id ([A-Za-z0-9-.]{{1,64}})"
        )
    problems: list[str] = null_problems(resource, type_name)
    for (kind, element), codes in REQUIRED_CODES.items():
        if kind != type_name or element not in resource:
            continue
        code = resource[element]
        if not isinstance(code, str) or code not in codes:
            problems.append(
                f"{element}: {json_text(code)} is not one of {', '.join(sorted(codes))}"
            )
    from pydantic import ValidationError

    try:
        problems += _validate_model(type_name, resource)
    except ValidationError as exc:
        for error in exc.errors()[:20]:
            where = ".".join(str(part) for part in error["loc"]) or type_name
            problems.append(f"{where}: {error['msg']}")
    except (ValueError, TypeError) as exc:
        problems.append(str(exc))
    problems += contained_problems(resource, type_name)
    problems += narrative_problems(resource, type_name)
    problems += control_character_problems(resource, type_name)
    if problems:
        raise InvalidResource("; ".join(problems), issues=problems)
    return resource
