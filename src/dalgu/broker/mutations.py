"""Pure functions that change an entity: the `Mutation`s services hand to the store.

Each returns a new entity (never edits its input) and sets `modifiedAt`; `createdAt` of the
entity and of every surviving attribute instance is kept (clause 4.8).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from dalgu.broker.model import (
    BARE_VALUE,
    KEEP_TYPE,
    MEMBERS,
    NULL_URI,
    SYSTEM_MEMBERS,
    VALUE_MEMBER,
    Entity,
    attribute_iris,
    is_uri,
    iso_ms,
)
from dalgu.errors import AlreadyExists, BadRequestData, ResourceNotFound, quoted
from dalgu.query.geo import validate_geometry
from dalgu.store.base import Mutation
from dalgu.store.history import parse_time

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


def in_order(mutation: Mutation) -> Mutation:
    """`mutation`, its `modifiedAt` later than the stored entity's.

    A write is stamped when its request is read, and may then wait for the entity (another
    worker's transaction, a group commit): stamped before a write that went in first, it left
    the entity's newer state with the older time, and a receiver that keeps the latest state by
    `modifiedAt` (as the README advises) dropped it. Applied where the store holds the entity,
    a stamp not after the stored one becomes the stored one plus a millisecond (the precision
    NGSI-LD times are written with), on the entity and on each attribute instance this write
    stamped."""

    def ordered(current: Entity | None) -> Entity | None:
        new = mutation(current)
        if new is None or current is None:
            return new
        before, stamp = current.get("modifiedAt"), new.get("modifiedAt")
        if not isinstance(before, str) or not isinstance(stamp, str) or stamp > before:
            return new
        later = _millisecond_after(before)
        new["modifiedAt"] = later
        for name, value in new.items():
            if name in MEMBERS:
                continue
            kept = current.get(name)
            kept = kept if isinstance(kept, list) else [kept]
            for instance in value if isinstance(value, list) else [value]:
                # an instance this write left as it was may carry the same millisecond from
                # an earlier write: it keeps its time (a command attribute re-stamped looked
                # changed, and its command went out again)
                if (
                    isinstance(instance, dict)
                    and instance.get("modifiedAt") == stamp
                    and instance not in kept
                ):
                    instance["modifiedAt"] = later
        return new

    return ordered


def _millisecond_after(stamp: str) -> str:
    return iso_ms(parse_time(stamp) + timedelta(milliseconds=1))


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


def merge_instance(
    old: dict[str, Any],
    fragment: dict[str, Any],
    now: str,
    lang: str | None = None,
    *,
    deep: bool = False,
    name: str = "",
) -> dict[str, Any]:
    """Merge a (partial) instance into an existing one (clauses 5.5.12, 5.6.17.4).

    Members are replaced and sub-attributes merged; an NGSI-LD Null (`urn:ngsi-ld:null`) as a
    sub-attribute or a member removes it. `deep` (Merge Entity, clause 5.5.12): a JSON object
    value (or a languageMap) is merged key by key to any depth, a Null key removed. A fragment
    given as its bare value (simplified or concise) keeps the type of the attribute it lands
    on: a Relationship takes it as its object, a LanguageProperty as the text of `lang` (else
    of `@none`), and so on; a value no attribute of that type can hold is BadRequestData. A
    fragment of another explicit type replaces the old one's value member, unless it comes
    from a simplified body (`KEEP_TYPE`), where a type change is BadRequestData (table
    6.5.3.4-1). `name`: the attribute, for error messages.
    """
    fragment = dict(fragment)
    bare = fragment.pop(BARE_VALUE, None)
    keep_type = fragment.pop(KEEP_TYPE, False)
    old_kind = old.get("type", "Property")
    if bare is not None:
        fragment = _as_kind(old_kind, fragment, bare, lang, name)
    elif keep_type and fragment.get("type", old_kind) != old_kind:
        raise BadRequestData(
            f"attribute {name} is a {old_kind}: a merge of a simplified representation "
            f"keeps its type, it cannot become a {fragment['type']} (table 6.5.3.4-1)"
        )
    merged = dict(old)
    new_kind = fragment.get("type", old_kind)
    if new_kind != old_kind:  # no member of the old kind's value stays beside the new one
        merged.pop(VALUE_MEMBER.get(old_kind, "value"), None)
    for member, value in fragment.items():
        if member in SYSTEM_MEMBERS:
            continue
        if member in MEMBERS:
            if value == NULL_URI and member not in ("type", "value", "object"):
                merged.pop(member, None)
            elif deep and member in ("value", "languageMap") and new_kind == old_kind:
                merged[member] = merge_json(merged.get(member), value)
            else:
                merged[member] = value
        elif is_null(value) or value == NULL_URI:
            merged.pop(member, None)
        elif member in merged and isinstance(merged[member], dict):
            merged[member] = merge_instance(merged[member], value, now, lang, deep=deep)
        else:
            merged[member] = _without_marks(value)
    merged["modifiedAt"] = now
    return merged


def _as_kind(
    kind: str, fragment: dict[str, Any], bare: Any, lang: str | None, name: str
) -> dict[str, Any]:
    """A bare-value fragment as the value member of an attribute of `kind` (clause 5.6.17.4:
    the pre-existing type is preserved)."""
    value = fragment.pop("value", None)
    fragment["type"] = kind
    fragment[VALUE_MEMBER.get(kind, "value")] = _value_of_kind(kind, value, bare, lang, name)
    return fragment


def _value_of_kind(kind: str, value: Any, bare: Any, lang: str | None, name: str) -> Any:
    """`value` as the value member of a `kind`; BadRequestData (clause 5.5.4) when no `kind`
    can hold it: a Relationship's object is a URI or URIs (clause 4.5.3.2), and so on."""
    if kind == "GeoProperty":
        validate_geometry(value, f"attribute {name}")
        return value
    if kind == "LanguageProperty":
        fits = _is_text(value)
        value = {lang if lang and lang != "*" else "@none": value}
    elif kind == "VocabProperty":  # `bare`: the value's expansion, when it is a term or terms
        fits, value = isinstance(bare, str | list), bare
    elif kind == "Relationship":
        objects = value if isinstance(value, list) else [value]
        fits = bool(objects) and all(is_uri(o) for o in objects)
    elif kind == "ListRelationship":
        fits = isinstance(value, list) and all(is_uri(o) for o in value)
    elif kind == "ListProperty":
        fits = isinstance(value, list)
    elif kind == "JsonProperty":
        fits = isinstance(value, dict | list)
    else:
        fits = True
    if not fits:
        raise BadRequestData(
            f"attribute {name} is a {kind}, which keeps its type in a merge (clause 5.6.17.4), "
            f"and a {kind} cannot hold {quoted(orjson.dumps(value).decode())} ({_HOLDS[kind]})"
        )
    return value


#: what the value member of each kind holds, for error messages
_HOLDS = {
    "LanguageProperty": "it takes a string or an array of strings",
    "VocabProperty": "its vocab is a term or an array of terms",
    "Relationship": "its object is a URI or an array of URIs",
    "ListRelationship": "its objectList is an array of URIs",
    "ListProperty": "its valueList is an array",
    "JsonProperty": "its json is a JSON object or array",
}


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
    )


def merge_json(old: Any, new: Any) -> Any:
    """JSON merge patch (RFC 7396) with NGSI-LD Null as its null: objects merged key by key,
    to any depth; anything else replaced. A GeoJSON geometry is replaced whole."""
    if not isinstance(new, dict) or "coordinates" in new or "@value" in new:
        return new
    if not isinstance(old, dict) or "coordinates" in old or "@value" in old:
        return {k: merge_json(None, v) for k, v in new.items() if v != NULL_URI}
    merged = dict(old)
    for key, value in new.items():
        if value == NULL_URI:
            merged.pop(key, None)
        else:
            merged[key] = merge_json(merged.get(key), value)
    return merged


def _without_marks(instance: Any) -> Any:
    if isinstance(instance, dict) and (BARE_VALUE in instance or KEEP_TYPE in instance):
        return {k: v for k, v in instance.items() if k not in (BARE_VALUE, KEEP_TYPE)}
    return instance


#: the forms an NGSI-LD Null takes in an attribute's value member (clauses 4.5.21.2, 4.5.22.3:
#: a list of one Null, the object of a ListRelationship's one item)
_NULLS = (NULL_URI, [NULL_URI], {"@none": NULL_URI}, [{"object": NULL_URI}])


def is_null(instance: Any) -> bool:
    """Whether an attribute fragment is an NGSI-LD Null: it deletes what it targets."""
    if not isinstance(instance, dict):
        return False
    for member in ("value", "object", "vocab", "json", "languageMap", "valueList", "objectList"):
        if instance.get(member) in _NULLS:
            return True
    return False


def merge_entity(
    entity: Entity,
    fragment: Entity,
    now: str,
    result: UpdateResult | None = None,
    lang: str | None = None,
    observed_at: str | None = None,
) -> None:
    """Merge-patch an entity in place (clause 5.6.17): add, merge or null-delete attributes;
    `lang` is the language a bare string merged into a LanguageProperty is the text of;
    `observed_at`, the common observedAt of merged attributes that had one and are given
    none (clause 5.6.17.4)."""
    add_types(entity, fragment)
    if "scope" in fragment:
        if fragment["scope"]:
            entity["scope"] = fragment["scope"]
        else:  # a Null scope: removed
            entity.pop("scope", None)
    set_expires_at(entity, fragment)
    for iri in attribute_iris(fragment):
        instances: Instances = entity.setdefault(iri, [])
        for new in fragment[iri]:
            index = find_instance(instances, new.get("datasetId"))
            if is_null(new):
                if index is not None:
                    instances.pop(index)
            elif index is None:
                instances.append(_without_marks(new))
            else:
                if observed_at and "observedAt" in instances[index] and "observedAt" not in new:
                    new = {**new, "observedAt": observed_at}
                instances[index] = merge_instance(
                    instances[index], new, now, lang, deep=True, name=iri
                )
        if not instances:
            del entity[iri]
        if result is not None:
            result.updated.append(iri)


def append_attributes(
    entity: Entity, attrs: Entity, result: UpdateResult, *, overwrite: bool
) -> None:
    """POST /entities/{id}/attrs (clause 5.6.3)."""
    add_types(entity, attrs)
    set_expires_at(entity, attrs)
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
    value is NGSI-LD Null deletes its match. New types are added; a scope replaces (a Null
    scope deletes) the entity's only when it has one.
    """
    add_types(entity, attrs)
    set_expires_at(entity, attrs)
    if "scope" in attrs:
        if "scope" in entity:
            if attrs["scope"]:
                entity["scope"] = list(attrs["scope"])
            else:  # an NGSI-LD Null scope: deleted (clause 5.5.8)
                del entity["scope"]
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


def set_expires_at(entity: Entity, fragment: Entity) -> None:
    """The fragment's expiresAt (clause 4.22) becomes the entity's; a Null removes it."""
    expires = fragment.get("expiresAt")
    if expires == NULL_URI:
        entity.pop("expiresAt", None)
    elif expires is not None:
        entity["expiresAt"] = expires
