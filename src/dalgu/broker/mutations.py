"""Pure functions that change an entity: the `Mutation`s services hand to the store.

Each returns a new entity (never edits its input) and sets `modifiedAt`; `createdAt` of the
entity and of every surviving attribute instance is kept (clause 4.8).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dalgu.broker.model import MEMBERS, NULL_URI, SYSTEM_MEMBERS, Entity, attribute_iris
from dalgu.errors import AlreadyExists, ResourceNotFound
from dalgu.store.base import Mutation

Instances = list[dict[str, Any]]


@dataclass(slots=True)
class UpdateResult:
    """Attributes updated and not updated by an attribute operation (clause 5.2.18)."""

    updated: list[str] = field(default_factory=list)
    not_updated: list[tuple[str, str]] = field(default_factory=list)


def _missing(entity_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"entity {entity_id} does not exist")


def create(new: Entity) -> Mutation:
    def mutation(current: Entity | None) -> Entity:
        if current is not None:
            raise AlreadyExists(f"entity {new['id']} already exists")
        return new

    return mutation


def replace(new: Entity, *, must_exist: bool = True) -> Mutation:
    """Replace every attribute (and the type when given); keep createdAt."""

    def mutation(current: Entity | None) -> Entity:
        if current is None:
            if must_exist:
                raise _missing(new["id"])
            return new
        result = dict(new)
        result["createdAt"] = current["createdAt"]
        if "type" not in result:
            result["type"] = current["type"]
        return result

    return mutation


def delete(entity_id: str) -> Mutation:
    def mutation(current: Entity | None) -> None:
        if current is None:
            raise _missing(entity_id)
        return None

    return mutation


def edit(entity_id: str, change: Callable[[Entity], None], now: str) -> Mutation:
    """Apply `change` to a deep copy of the stored entity; 404 when it does not exist."""

    def mutation(current: Entity | None) -> Entity:
        if current is None:
            raise _missing(entity_id)
        entity = copy.deepcopy(current)
        change(entity)
        entity["modifiedAt"] = now
        return entity

    return mutation


def put_instance(instances: Instances, new: dict[str, Any]) -> bool:
    """Replace the instance with the same datasetId (keeping createdAt) or add it.

    Returns True when an instance was replaced.
    """
    dataset = new.get("datasetId")
    for index, old in enumerate(instances):
        if old.get("datasetId") == dataset:
            new = dict(new)
            new["createdAt"] = old.get("createdAt", new.get("createdAt"))
            instances[index] = new
            return True
    instances.append(new)
    return False


def find_instance(instances: Instances, dataset: str | None) -> int | None:
    for index, instance in enumerate(instances):
        if instance.get("datasetId") == dataset:
            return index
    return None


def merge_instance(old: dict[str, Any], fragment: dict[str, Any], now: str) -> dict[str, Any]:
    """Merge a (partial) instance into an existing one: members replaced, sub-attributes merged.

    A sub-attribute whose value is `urn:ngsi-ld:null` is removed (merge-patch semantics).
    """
    merged = dict(old)
    for member, value in fragment.items():
        if member in SYSTEM_MEMBERS:
            continue
        if member in MEMBERS:
            merged[member] = value
        elif is_null(value):
            merged.pop(member, None)
        elif member in merged and isinstance(merged[member], dict):
            merged[member] = merge_instance(merged[member], value, now)
        else:
            merged[member] = value
    merged["modifiedAt"] = now
    return merged


def is_null(instance: Any) -> bool:
    if not isinstance(instance, dict):
        return False
    for member in ("value", "object", "vocab", "json", "languageMap"):
        value = instance.get(member)
        if value == NULL_URI or value == [NULL_URI] or value == {"@none": NULL_URI}:
            return True
    return False


def merge_entity(
    entity: Entity, fragment: Entity, now: str, result: UpdateResult | None = None
) -> None:
    """Merge-patch an entity in place (clause 5.6.17): add, merge or null-delete attributes."""
    add_types(entity, fragment)
    if "scope" in fragment:
        entity["scope"] = fragment["scope"]
    for iri in attribute_iris(fragment):
        instances: Instances = entity.setdefault(iri, [])
        for new in fragment[iri]:
            index = find_instance(instances, new.get("datasetId"))
            if is_null(new):
                if index is not None:
                    instances.pop(index)
            elif index is None:
                instances.append(new)
            else:
                instances[index] = merge_instance(instances[index], new, now)
        if not instances:
            del entity[iri]
        if result is not None:
            result.updated.append(iri)


def append_attributes(
    entity: Entity, attrs: Entity, result: UpdateResult, *, overwrite: bool
) -> None:
    """POST /entities/{id}/attrs (clause 5.6.3)."""
    add_types(entity, attrs)
    if "scope" in attrs:
        if overwrite or "scope" not in entity:
            entity["scope"] = list(attrs["scope"])
        else:
            entity["scope"] = entity["scope"] + [
                s for s in attrs["scope"] if s not in entity["scope"]
            ]
        result.updated.append("scope")
    for iri in attribute_iris(attrs):
        instances: Instances = entity.setdefault(iri, [])
        for new in attrs[iri]:
            index = find_instance(instances, new.get("datasetId"))
            if index is not None and not overwrite:
                result.not_updated.append((iri, "attribute exists and noOverwrite was set"))
                continue
            put_instance(instances, new)
            if iri not in result.updated:
                result.updated.append(iri)
        if not instances:
            del entity[iri]


def update_attributes(entity: Entity, attrs: Entity, result: UpdateResult) -> None:
    """PATCH /entities/{id}/attrs (clause 5.6.2).

    Existing instances (matched by datasetId) are replaced, others appended; an instance whose
    value is NGSI-LD Null deletes its match. New types are added; a scope replaces the entity's
    only when it has one.
    """
    add_types(entity, attrs)
    if "scope" in attrs:
        if "scope" in entity:
            entity["scope"] = list(attrs["scope"])
            result.updated.append("scope")
        else:
            result.not_updated.append(("scope", "the entity has no scope to update"))
    for iri in attribute_iris(attrs):
        instances: Instances = entity.setdefault(iri, [])
        for new in attrs[iri]:
            index = find_instance(instances, new.get("datasetId"))
            if is_null(new):
                if index is None:
                    result.not_updated.append((iri, "no such attribute instance to delete"))
                    continue
                instances.pop(index)
            else:
                put_instance(instances, new)
            if iri not in result.updated:
                result.updated.append(iri)
        if not instances:
            del entity[iri]


def add_types(entity: Entity, fragment: Entity) -> None:
    """Add the fragment's entity types that the entity does not have yet (clause 5.6.2)."""
    for extra_type in fragment.get("type", []):
        if extra_type not in entity["type"]:
            entity["type"].append(extra_type)
