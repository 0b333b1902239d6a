"""Parse entity payloads (normalized or concise, compact names) into Dalgu's expanded form.

Validation follows ETSI GS CIM 009 clause 4.5 / 5.5.4: bad ids, types, names, geometries and
attribute shapes are `BadRequestData`; wrong JSON shapes are `BadRequestData` too since the
JSON itself parsed. System attributes in input are ignored, as the spec says.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from dalgu.broker.model import (
    ATTRIBUTE_TYPE_IRIS,
    BARE_VALUE,
    GEO_ATTRIBUTES,
    GEOJSON_TYPES,
    KEEP_TYPE,
    MEMBERS,
    NULL_URI,
    SYSTEM_MEMBERS,
    VALUE_MEMBER,
    Entity,
    is_uri,
    is_valid_name,
    request_datetime,
)
from dalgu.errors import BadRequestData
from dalgu.ldcontext.resolver import core_terms
from dalgu.ldcontext.termmap import TermMap
from dalgu.query.geo import validate_geometry
from dalgu.query.scope import validate_scope

_INFER_ORDER = ("object", "languageMap", "vocab", "valueList", "objectList", "json", "value")
_INFERRED = {
    "object": "Relationship",
    "languageMap": "LanguageProperty",
    "vocab": "VocabProperty",
    "valueList": "ListProperty",
    "objectList": "ListRelationship",
    "json": "JsonProperty",
    "value": "Property",
}


#: the members that hold an attribute's value: an instance has its kind's only (clause 4.5's
#: "shall never be present": `value` on a LanguageProperty, `object` on a ListRelationship)
_HOLDERS = frozenset(VALUE_MEMBER.values())
#: kinds whose instances never have a `unitCode` (clauses 4.5.18.2, 4.5.24.2)
_NO_UNIT = frozenset({"LanguageProperty", "JsonProperty"})
#: members only notifications show (`showChanges`, clause 4.5.2.2 and the like): never input
_PREVIOUS = frozenset(
    {
        "previousValue",
        "previousObject",
        "previousLanguageMap",
        "previousVocab",
        "previousValueList",
        "previousObjectList",
        "previousJson",
    }
)
#: the IRIs of the core @context's non-reified Properties (clause 4.5.1: "shall not be used as
#: Attribute names"): the members of attribute instances (`datasetId`, `value`, ...), the
#: system times among them, and the members only notifications show
_NOT_ATTRIBUTE_NAMES = frozenset(
    core_terms().expand(name) for name in (MEMBERS - {"type", "expiresAt"}) | _PREVIOUS
)
#: a language tag as RFC 5646 forms it (letters, then subtags of letters and digits)
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def parse_entity(
    doc: Any,
    terms: TermMap,
    now: str,
    *,
    require_id: bool = True,
    require_type: bool = True,
    merging: bool = False,
    simplified: bool = False,
    patch: bool = False,
) -> Entity:
    """A full entity: id, type(s), scope and attributes, with system times set to `now`.
    `merging`: a merge's fragment, whose instances given as bare values are marked
    (`BARE_VALUE`) for the merge to keep the type they land on; `simplified`: a merge's
    fragment in the simplified representation (clause 4.5.4, `format=simplified`). `merging`
    or `patch` (a partial update's fragment): an NGSI-LD Null scope deletes the scope (clause
    5.5.8)."""
    if not isinstance(doc, dict):
        raise BadRequestData("an entity must be a JSON object")
    entity: Entity = {}
    entity_id = doc.get("id", doc.get("@id"))
    if entity_id is not None or require_id:
        if not is_uri(entity_id):
            given = "no id" if entity_id is None else f"the id {orjson.dumps(entity_id).decode()}"
            raise BadRequestData(f"the entity has {given}, not a URI")
        entity["id"] = entity_id
    types = parse_types(doc.get("type", doc.get("@type")), terms, required=require_type)
    if types:
        entity["type"] = types
    if "scope" in doc:
        if (merging or patch) and doc["scope"] == NULL_URI:  # removes it (5.5.8, 5.5.12)
            entity["scope"] = []
        else:
            entity["scope"] = parse_scopes(doc["scope"])
    entity["createdAt"] = now
    entity["modifiedAt"] = now
    members = doc
    if "expiresAt" in doc:  # an entity member (clause 4.5.1), not an attribute
        entity["expiresAt"] = _expires_at(doc["expiresAt"], merging)
        members = {k: v for k, v in doc.items() if k != "expiresAt"}
    entity.update(parse_attributes(members, terms, now, merging=merging, simplified=simplified))
    return entity


def _expires_at(value: Any, merging: bool) -> str:
    """An entity's expiresAt: a DateTime (clauses 4.22, 4.6.3); in a merge, the Null that
    removes it (clause 5.5.12)."""
    if merging and value == NULL_URI:
        return NULL_URI
    given = request_datetime(value)
    if given is None:
        raise BadRequestData(
            f"expiresAt {orjson.dumps(value).decode()[:80]} is not a DateTime "
            "(YYYY-MM-DDThh:mm:ss[.s]Z, clauses 4.22, 4.6.3)"
        )
    return given


def parse_types(value: Any, terms: TermMap, *, required: bool = True) -> list[str]:
    if value is None:
        if required:
            raise BadRequestData("an entity must have a type")
        return []
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and is_valid_name(v) for v in values):
        raise BadRequestData(f"invalid entity type {value!r}")
    if NULL_URI in values:  # the type is mandatory (clause 4.5.1): no Null deletes it
        raise BadRequestData(f"entity type {NULL_URI!r}: the NGSI-LD Null is no entity type")
    expanded: list[str] = []
    for name in values:
        iri = terms.expand(name)
        if iri.startswith("@"):
            raise BadRequestData(f"entity type {name!r} is a JSON-LD keyword, not a type")
        if iri not in expanded:
            expanded.append(iri)
    return expanded


def parse_scopes(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise BadRequestData("scope must be a string or an array of strings")
    return [validate_scope(v) for v in values]


def parse_attributes(
    doc: dict[str, Any],
    terms: TermMap,
    now: str,
    *,
    merging: bool = False,
    simplified: bool = False,
) -> dict[str, list[Any]]:
    """Every attribute of an entity payload or fragment: attribute IRI → instances."""
    attributes: dict[str, list[Any]] = {}
    for name, value in doc.items():
        if name in ("id", "@id", "type", "@type", "scope", "@context"):
            continue
        if name in SYSTEM_MEMBERS and request_datetime(value) is not None:
            continue  # the broker writes system times (clause 4.8): a client's are ignored
        iri = attribute_iri(name, terms)
        if iri in _NOT_ATTRIBUTE_NAMES:
            raise BadRequestData(
                f"{name!r} is a term of the core @context that is no Property of its own "
                "(a member of entities or attributes): it is not an Attribute name (clause 4.5.1)"
            )
        if simplified:
            attributes[iri] = parse_simplified(iri, value, terms, now)
        else:
            attributes[iri] = parse_attribute(iri, value, terms, now, merging=merging)
    return attributes


#: the members that alone make an attribute of the simplified representation (clause 4.5.4)
_SIMPLIFIED_KINDS = frozenset({"languageMap", "json", "vocab"})


def parse_simplified(iri: str, value: Any, terms: TermMap, now: str) -> list[dict[str, Any]]:
    """One attribute of a merge's simplified body (clause 4.5.4): its value, or an object of
    one `languageMap`, `json` or `vocab`, or of one `dataset` (datasetId → such a value,
    `@none` the default). A value is marked to keep the type of the attribute it lands on,
    a kind given is marked to be refused by one of another type (table 6.5.3.4-1)."""
    if (
        isinstance(value, dict)
        and value.keys() == {"dataset"}
        and isinstance(value["dataset"], dict)
    ):
        instances = []
        for dataset, one in value["dataset"].items():
            instance = _simplified_instance(iri, one, terms, now)
            if dataset != "@none":
                instance["datasetId"] = _member(iri, None, "datasetId", dataset, terms)
            instances.append(instance)
        return instances
    return [_simplified_instance(iri, value, terms, now)]


def _simplified_instance(iri: str, value: Any, terms: TermMap, now: str) -> dict[str, Any]:
    if isinstance(value, dict) and len(value) == 1 and value.keys() <= _SIMPLIFIED_KINDS:
        instance = parse_instance(iri, value, terms, now)
        instance[KEEP_TYPE] = True
        return instance
    instance = parse_instance(iri, {"value": value}, terms, now)
    instance[BARE_VALUE] = _vocab(value, terms)
    return instance


def attribute_iri(name: str, terms: TermMap) -> str:
    known = terms.attribute_iris.get(name) if isinstance(name, str) else None
    if known is not None:  # a batch names the same attributes in each of its entities
        return known
    if not isinstance(name, str) or not is_valid_name(name) or name.startswith("@"):
        raise BadRequestData(f"invalid attribute name {name!r}")
    iri = terms.expand(name)
    if iri.startswith("@"):
        raise BadRequestData(f"attribute name {name!r} is a JSON-LD keyword")
    if len(terms.attribute_iris) < 4096:
        terms.attribute_iris[name] = iri
    return iri


def parse_attribute(
    iri: str, value: Any, terms: TermMap, now: str, *, merging: bool = False
) -> list[dict[str, Any]]:
    """One attribute's instances; several when it is a multi-attribute (datasetId).

    An array is a multi-attribute when its members are attribute instances (objects with a
    `type` or a value member); an array of other objects is a concise Property's value
    (clause 4.5.2.3: `"openingHours": [{"opens": "10:00"}, ...]`, as Smart Data Models write
    it). An array mixing both is ambiguous: refused."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        shapes = {is_attribute_instance(v) for v in value}
        if shapes == {False}:
            return [parse_instance(iri, value, terms, now, merging=merging)]
        if len(shapes) > 1:
            raise BadRequestData(
                f"attribute {iri} is an array mixing attribute instances (objects with a type "
                "or a value member) and plain objects: neither several instances nor one value"
            )
        instances = [parse_instance(iri, v, terms, now, merging=merging) for v in value]
        seen: set[str | None] = set()
        for instance in instances:
            dataset = instance.get("datasetId")
            if dataset in seen:
                which = "the default instance" if dataset is None else f"datasetId {dataset!r}"
                raise BadRequestData(f"attribute {iri} repeats {which}")
            seen.add(dataset)
        return instances
    return [parse_instance(iri, value, terms, now, merging=merging)]


def parse_instance(
    iri: str,
    value: Any,
    terms: TermMap,
    now: str,
    *,
    partial: bool = False,
    merging: bool = False,
) -> dict[str, Any]:
    """One attribute instance (normalized or concise); `partial` allows a missing value.

    Concise (clause 4.5.2.3): a value that is not an object, a geometry, or an object with
    neither `type` nor a value member (`value`, `object`, `languageMap`, ...) is a Property's
    value itself (`"address": {"addressLocality": "Madrid"}`, a typed literal
    `{"@type": "DateTime", "@value": ...}`); only a fragment of a partial update may leave
    its value out."""
    if partial:
        bare = not isinstance(value, dict) or _is_geometry(value)
    else:
        bare = not is_attribute_instance(value)
    if bare:
        if value is None:
            raise BadRequestData(f"attribute {iri} has a null value")
        inferred = "GeoProperty" if _is_geometry(value) or iri in GEO_ATTRIBUTES else "Property"
        value = {"type": inferred, "value": value}
    instance: dict[str, Any] = (
        {BARE_VALUE: _vocab(value["value"], terms)} if bare and merging else {}
    )
    kind = _attribute_type(iri, value, terms, partial)
    if kind is not None:
        instance["type"] = kind
    _check_members(iri, kind, value)
    for member, member_value in value.items():
        if member == "type" or member in SYSTEM_MEMBERS or member == "instanceId":
            continue
        if member in MEMBERS:
            instance[member] = _member(iri, kind, member, member_value, terms)
        else:
            sub_iri = attribute_iri(member, terms)
            instance[sub_iri] = parse_instance(sub_iri, member_value, terms, now)
    if kind is not None and not partial:
        holder = VALUE_MEMBER[kind]
        if holder not in instance:
            raise BadRequestData(f"attribute {iri} of type {kind} needs a '{holder}' member")
    if iri in GEO_ATTRIBUTES and kind not in (None, "GeoProperty"):
        raise BadRequestData(f"attribute {iri} must be a GeoProperty")
    instance["createdAt"] = now
    instance["modifiedAt"] = now
    return instance


def _check_members(iri: str, kind: str | None, value: dict[str, Any]) -> None:
    """Members an instance of `kind` shall never have (a fragment without a type: more than
    one value member), and those only the broker writes."""
    holders = _HOLDERS.intersection(value)
    own = VALUE_MEMBER.get(kind) if kind is not None else None
    stray = sorted(holders - {own}) if own is not None else sorted(holders)[1:]
    if stray:
        raise BadRequestData(
            f"attribute {iri}: a {kind or 'fragment'} has no {stray[0]!r} member "
            f"(its value is in {own or sorted(holders)[0]!r})"
        )
    if kind in _NO_UNIT and "unitCode" in value:
        raise BadRequestData(f"attribute {iri}: a {kind} has no unitCode")
    previous = _PREVIOUS.intersection(value)
    if previous:
        raise BadRequestData(
            f"attribute {iri}: {min(previous)!r} is shown in notifications only, never written"
        )


def _vocab(value: Any, terms: TermMap) -> str | list[str] | bool:
    """What a bare value means as a VocabProperty's vocab: its expansion, when it is a term
    (or an array of terms); True when it is none."""
    names = value if isinstance(value, list) else [value]
    if names and all(
        isinstance(n, str) and is_valid_name(n) and not n.startswith("@") for n in names
    ):
        expanded = [terms.expand(n) for n in names]
        return expanded if isinstance(value, list) else expanded[0]
    return True


def is_attribute_instance(value: Any) -> bool:
    """An object that reads as an attribute instance, not a concise Property's value (clause
    4.5.2.3): a `type` or a value member (`value`, `object`, `languageMap`, ...), and not a
    GeoJSON geometry (which is a GeoProperty's value)."""
    return (
        isinstance(value, dict)
        and not _is_geometry(value)
        and ("type" in value or any(m in value for m in _INFER_ORDER))
    )


def _is_geometry(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") in GEOJSON_TYPES and "coordinates" in value


def _attribute_type(iri: str, value: dict[str, Any], terms: TermMap, partial: bool) -> str | None:
    declared = value.get("type")
    if declared is None:
        for member in _INFER_ORDER:
            if member in value:
                if member == "value" and (iri in GEO_ATTRIBUTES or _is_geometry(value["value"])):
                    return "GeoProperty"
                return _INFERRED[member]
        if partial:
            return None
        raise BadRequestData(f"attribute {iri} has no type and no value")
    if not isinstance(declared, str):
        raise BadRequestData(f"attribute {iri} has an invalid type {declared!r}")
    if declared in VALUE_MEMBER:
        return declared
    expanded = ATTRIBUTE_TYPE_IRIS.get(terms.expand(declared))
    if expanded is None:
        raise BadRequestData(f"attribute {iri} has an unknown attribute type {declared!r}")
    return expanded


def _member(iri: str, kind: str | None, member: str, value: Any, terms: TermMap) -> Any:
    if value is None:
        raise BadRequestData(f"attribute {iri}: '{member}' must not be null")
    if member == "value":
        geo = kind == "GeoProperty" or (kind is None and _is_geometry(value))
        if geo and value != NULL_URI:
            validate_geometry(value)
        return value
    if member == "object":
        objects = value if isinstance(value, list) else [value]
        if not objects or not all(is_uri(o) for o in objects):
            raise BadRequestData(f"attribute {iri}: 'object' must be a URI")
        return value
    if member == "objectList":
        if not isinstance(value, list):
            raise BadRequestData(f"attribute {iri}: 'objectList' must be an array")
        items = [v.get("object") if isinstance(v, dict) else v for v in value]
        if not all(is_uri(o) for o in items):
            raise BadRequestData(f"attribute {iri}: 'objectList' must hold URIs")
        return items
    if member == "valueList":
        if not isinstance(value, list):
            raise BadRequestData(f"attribute {iri}: 'valueList' must be an array")
        return value
    if member == "languageMap":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and _is_text(v) for k, v in value.items()
        ):
            raise BadRequestData(f"attribute {iri}: 'languageMap' must map languages to strings")
        bad = [k for k in value if k != "@none" and not _LANGUAGE_TAG.fullmatch(k)]
        if bad:
            raise BadRequestData(
                f"attribute {iri}: languageMap key {bad[0]!r} is no language tag (IETF RFC "
                "5646, clause 4.5.18.2)"
            )
        return value
    if member == "valueType":  # a datatype IRI, type-coerced as `@vocab` (clause 4.5.2.2)
        if not isinstance(value, str) or not is_valid_name(value):
            raise BadRequestData(f"attribute {iri}: valueType must name a datatype")
        return terms.expand(value)
    if member == "expiresAt":  # when the attribute expires (clause 4.22): a DateTime
        if request_datetime(value) is None:
            raise BadRequestData(f"attribute {iri}: expiresAt {value!r} is not a DateTime")
        return value
    if member in ("vocab", "objectType"):
        names = value if isinstance(value, list) else [value]
        if not names or not all(isinstance(n, str) and is_valid_name(n) for n in names):
            raise BadRequestData(f"attribute {iri}: invalid '{member}' {value!r}")
        expanded = [terms.expand(n) for n in names]
        return expanded if isinstance(value, list) else expanded[0]
    if member == "json":
        if not isinstance(value, (dict, list)):
            raise BadRequestData(f"attribute {iri}: 'json' must be a JSON object or array")
        return value
    if member == "datasetId":
        if not is_uri(value):
            raise BadRequestData(f"attribute {iri}: datasetId {value!r} is not a URI")
        return value
    if member == "observedAt":
        given = request_datetime(value)
        if given is None:
            raise BadRequestData(
                f"attribute {iri}: observedAt {value!r} is not a DateTime "
                "(YYYY-MM-DDThh:mm:ss[.s]Z, clause 4.6.3)"
            )
        return given
    if member in ("unitCode", "lang"):
        if not isinstance(value, str):
            raise BadRequestData(f"attribute {iri}: '{member}' must be a string")
        return value
    return value


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    )
