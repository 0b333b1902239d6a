"""The references a resource makes, for referential integrity on write (as HAPI FHIR enforces
by default): a literal reference to a resource of this server must name one that exists, and a
local reference (`#id`) a resource contained in the same resource (R4 references.html,
constraint ref-1).

Pure: `literal_references` lists what to look up, `local_problems` what is wrong without
looking anything up; `placeholders` the `urn:uuid:` references, which name an entry of a
transaction Bundle and mean nothing once stored (a transaction rewrites those it resolves).
Not checked: `urn:oid:` references, conditional references (`Type?search`, resolved by a
transaction), absolute URLs of other servers, relative references to types this server does
not keep, and identifier- or display-only references.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dalgu.fhir.model import RESOURCE_TYPES, Resource

_RELATIVE = re.compile(
    r"(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/(?P<version>[^/]+))?"
)


@dataclass(frozen=True, slots=True)
class LiteralReference:
    """A reference to a resource of this server, and the element that makes it
    (`Observation.subject`, `Consent.provision.actor[0].reference`)."""

    element: str
    type: str
    id: str
    version: str | None  # `_history/[vid]` of a versioned reference

    @property
    def text(self) -> str:
        suffix = "" if self.version is None else f"/_history/{self.version}"
        return f"{self.type}/{self.id}{suffix}"


def _references(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(element, reference) of every `reference` string below `value`, contained resources
    excepted."""
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str):
            yield path, reference
        for key, member in value.items():
            if key != "contained":
                yield from _references(member, f"{path}.{key}")
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _references(item, f"{path}[{position}]")


def _all_references(resource: Resource, path: str) -> Iterator[tuple[str, str]]:
    """Those of the resource, then those of each resource it contains."""
    yield from _references(resource, path)
    for position, contained in enumerate(resource.get("contained") or []):
        if isinstance(contained, dict):
            yield from _references(contained, f"{path}.contained[{position}]")


def literal_references(resource: Resource, base: str | None = None) -> list[LiteralReference]:
    """The references of `resource` (and its contained resources) to resources of this
    server: `Type/id` of a type it keeps, or the same under `base` (its absolute URL)."""
    found: list[LiteralReference] = []
    prefix = None if base is None else base.rstrip("/") + "/"
    for element, reference in _all_references(resource, str(resource.get("resourceType"))):
        text = reference
        if prefix is not None and text.startswith(prefix):
            text = text[len(prefix) :]
        match = _RELATIVE.fullmatch(text)
        if match is None or match["type"] not in RESOURCE_TYPES:
            continue
        found.append(LiteralReference(element, match["type"], match["id"], match["version"]))
    return found


def local_problems(resource: Resource) -> list[str]:
    """Each `#id` reference that names no resource contained in `resource` (`#` alone names
    the container itself, as a contained resource may)."""
    contained = {c.get("id") for c in resource.get("contained") or [] if isinstance(c, dict)} - {
        None
    }
    problems = []
    for element, reference in _all_references(resource, str(resource.get("resourceType"))):
        if reference.startswith("#") and reference != "#" and reference[1:] not in contained:
            problems.append(f"{element}: {reference} names no contained resource")
    return problems


def placeholders(resource: Resource) -> list[str]:
    """Each `urn:uuid:` reference of `resource`, as `element: reference`: a transaction
    replaces those that name one of its entries, so any left names nothing."""
    return [
        f"{element}: {reference}"
        for element, reference in _all_references(resource, str(resource.get("resourceType")))
        if reference.startswith("urn:uuid:")
    ]
