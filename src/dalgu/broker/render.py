"""Render expanded entities in the representation a request asks for (clause 4.5).

Normalized, concise and simplified (keyValues); system attributes on request; attribute
projection (`attrs`, `pick`, `omit`, reaching into linked entities); language selection for
LanguageProperty (clause 4.15); GeoJSON features (clause 4.5.16); a hook that puts linked
entities inline (clause 4.5.23, `dalgu.broker.join`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from dalgu.broker.model import (
    GEOJSON_TYPES,
    LOCATION,
    MEMBERS,
    NOT_ATTRIBUTES,
    SYSTEM_MEMBERS,
    VALUE_MEMBER,
    Entity,
)
from dalgu.ldcontext.termmap import TermMap

Format = Literal["normalized", "concise", "keyValues"]
ProjectionTree = dict[str, "ProjectionTree | None"]

#: Entity members a pick or omit may name besides attributes (clause 4.21)
ENTITY_MEMBERS = frozenset({"id", "type", "scope", "expiresAt"})
#: attribute types whose targets Linked Entity Retrieval follows (clause 4.5.23), and the
#: member of the rendered attribute that holds the linked entities inline
LINKING: Final[dict[str, str]] = {"Relationship": "entity", "ListRelationship": "entityList"}

#: (attribute IRI, one of its Relationship or ListRelationship instances) → what to put
#: inline for it (linked entities), or None to render the instance as it is
Linker = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Representation:
    format: Format = "normalized"
    sys_attrs: bool = False
    lang: str | None = None
    attrs: frozenset[str] | None = None  # attribute IRIs to keep (attrs / pick)
    omit: frozenset[str] = frozenset()  # attribute IRIs, or "id"/"type"/"scope" (omit)
    keep_id: bool = True
    keep_type: bool = True
    datasets: frozenset[str] | None = None  # datasetIds to keep, "@none" = default instance
    keep_scope: bool = True
    keep_expires_at: bool = True
    #: relationship IRI → the projection of the entities it links to (`locatedAt{id,name}`)
    linked: tuple[tuple[str, Representation], ...] = ()

    def for_linked(self, iri: str) -> Representation:
        """How the entities linked through attribute `iri` are rendered: the nested part of
        the pick or omit, else in full; this entity's own projection stays with it."""
        for name, nested in self.linked:
            if name == iri:
                return nested
        return Representation(self.format, self.sys_attrs, self.lang, datasets=self.datasets)

    @property
    def reach(self) -> int:
        """How many levels of linked entities the projection reaches into."""
        return 1 + max(nested.reach for _, nested in self.linked) if self.linked else 0


def project(
    base: Representation,
    terms: TermMap,
    *,
    attrs: list[str] | None = None,
    pick: ProjectionTree | None = None,
    omit: ProjectionTree | None = None,
) -> Representation:
    """`base` narrowed by `attrs`, or by a pick or omit projection (clause 4.21)."""
    names = list(attrs or []) + list(pick or {})
    keep: frozenset[str] | None = None
    if names:
        keep = frozenset(terms.expand(a) for a in names if a not in ENTITY_MEMBERS)
    plain = Representation(base.format, base.sys_attrs, base.lang, datasets=base.datasets)
    linked = [
        (terms.expand(name), project(plain, terms, pick=nested))
        for name, nested in (pick or {}).items()
        if nested
    ] + [
        (terms.expand(name), project(plain, terms, omit=nested))
        for name, nested in (omit or {}).items()
        if nested
    ]
    return replace(
        base,
        attrs=keep,
        # `locatedAt{name}` omits from the linked entity, not the relationship itself
        omit=frozenset(
            o if o in ENTITY_MEMBERS else terms.expand(o)
            for o, nested in (omit or {}).items()
            if nested is None
        ),
        keep_id=not pick or "id" in pick,
        keep_type=not pick or "type" in pick,
        keep_scope=not pick or "scope" in pick,
        keep_expires_at=not pick or "expiresAt" in pick,
        linked=tuple(linked),
    )


def visible_instances(
    entity: Entity, rep: Representation
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Each attribute of `entity` that `rep` shows, with the instances it shows of it."""
    for iri, instances in entity.items():
        if iri in NOT_ATTRIBUTES:
            continue
        if rep.attrs is not None and iri not in rep.attrs:
            continue
        if iri in rep.omit:
            continue
        if rep.datasets is not None:
            instances = [i for i in instances if i.get("datasetId", "@none") in rep.datasets]
            if not instances:
                continue
        yield iri, instances


def render_entity(
    entity: Entity, terms: TermMap, rep: Representation, link: Linker | None = None
) -> dict[str, Any]:
    """`entity` as `rep` asks; `link` (Linked Entity Retrieval) puts linked entities inline."""
    out: dict[str, Any] = {}
    if rep.keep_id and "id" not in rep.omit:
        out["id"] = entity["id"]
    if rep.keep_type and "type" not in rep.omit and "type" in entity:
        types = entity["type"]
        out["type"] = (
            terms.compact(types[0]) if len(types) == 1 else [terms.compact(t) for t in types]
        )
    if "scope" in entity and rep.keep_scope and "scope" not in rep.omit:
        scopes = entity["scope"]
        out["scope"] = scopes[0] if len(scopes) == 1 else scopes
    # a member of the entity (clause 4.5.1), which the simplified form has not (clause 4.5.4)
    if (
        "expiresAt" in entity
        and rep.keep_expires_at
        and rep.format != "keyValues"
        and "expiresAt" not in rep.omit
    ):
        out["expiresAt"] = entity["expiresAt"]
    compact = terms.compact
    if link is None and rep.attrs is None and not rep.omit and rep.datasets is None:
        # the commonest case, with no per-attribute decisions: one pass over the members
        if rep.format == "normalized":  # and the commonest instance is copied (`_plain`)
            skip = _SKIP_WITH_SYSTEM if rep.sys_attrs else _SKIP
            for iri, instances in entity.items():
                if iri in NOT_ATTRIBUTES:
                    continue
                if len(instances) == 1:
                    one = instances[0]
                    out[compact(iri)] = (
                        _plain(one, skip)
                        if one.keys() <= _COPIED
                        else render_instance(one, terms, rep)
                    )
                else:
                    out[compact(iri)] = [
                        _plain(i, skip) if i.keys() <= _COPIED else render_instance(i, terms, rep)
                        for i in instances
                    ]
            if rep.sys_attrs:
                out["createdAt"] = entity["createdAt"]
                out["modifiedAt"] = entity["modifiedAt"]
            return out
        for iri, instances in entity.items():
            if iri in NOT_ATTRIBUTES:
                continue
            alone = len(instances) == 1
            rendered = [render_instance(i, terms, rep, alone=alone) for i in instances]
            out[compact(iri)] = _attribute(instances, rendered, rep)
    else:
        for iri, instances in visible_instances(entity, rep):
            rendered = []
            for instance in instances:
                piece = render_instance(instance, terms, rep, alone=len(instances) == 1)
                inline = link(iri, instance) if link and instance.get("type") in LINKING else None
                if inline is not None:
                    # simplified: the linked entities replace the target (annex C.2.2)
                    piece = (
                        inline
                        if rep.format == "keyValues"
                        else {
                            **piece,
                            LINKING[instance["type"]]: inline,
                        }
                    )
                rendered.append(piece)
            out[compact(iri)] = _attribute(instances, rendered, rep)
    if rep.sys_attrs and rep.format != "keyValues":
        out["createdAt"] = entity["createdAt"]
        out["modifiedAt"] = entity["modifiedAt"]
    return out


def _attribute(instances: list[dict[str, Any]], rendered: list[Any], rep: Representation) -> Any:
    """An attribute's rendered instances as its member's value: the one instance alone, an
    array of several; in the simplified form a multi-attribute is `{"dataset": {datasetId:
    value}}` with `@none` for the default instance (clause 4.5.4)."""
    if rep.format == "keyValues" and (
        len(instances) > 1 or any("datasetId" in i for i in instances)
    ):
        return {
            "dataset": {
                instance.get("datasetId", "@none"): value
                for instance, value in zip(instances, rendered, strict=True)
            }
        }
    return rendered[0] if len(rendered) == 1 else rendered


def render_instance(
    instance: dict[str, Any], terms: TermMap, rep: Representation, *, alone: bool = True
) -> Any:
    """One attribute instance in `rep`'s format. In the concise form a Property with nothing
    but its value is that value (clause 4.5.2.3), unless it is one of several instances
    (`alone` False: clause 4.5.2.3 makes them "a JSON-LD array with such JSON-LD objects") or
    the value would read back as an attribute (an object with `type` or `value`, a list of
    objects); then it keeps `{"value": ...}`. A Property whose value is a geometry keeps its
    `type`, which it would otherwise read back as a GeoProperty."""
    kind = instance["type"]
    if rep.format == "keyValues":
        return _simple_value(instance, kind, terms, rep.lang)
    if rep.format == "normalized" and instance.keys() <= _COPIED:
        return _plain(instance, _SKIP_WITH_SYSTEM if rep.sys_attrs else _SKIP)
    out: dict[str, Any] = {}
    if rep.format == "normalized":
        out["type"] = kind
    for member, value in instance.items():
        if member == "type":
            continue
        if member in SYSTEM_MEMBERS:
            if rep.sys_attrs and member != "deletedAt":
                out[member] = value
            continue
        if member in MEMBERS:
            if member in ("vocab", "objectType", "valueType"):
                out[member] = _compact_names(value, terms)
            elif member == "languageMap" and rep.lang is not None:
                text, lang = pick_language(value, rep.lang)
                if rep.format == "normalized":
                    out["type"] = "Property"
                out["value"] = text
                out["lang"] = lang
            else:
                out[member] = value
            continue
        out[terms.compact(member)] = render_instance(value, terms, rep)
    if rep.format == "concise":
        holder = VALUE_MEMBER[kind]
        if kind == "Property" and _is_geometry(out.get("value")):
            # read back without its type, a geometry's holder is a GeoProperty (clause 4.7.3):
            # the concise form is lossless only with it (cons-12)
            return {"type": kind, **out}
        if kind in ("Property", "GeoProperty") and set(out) == {"value"}:
            if alone and not _reads_as_attribute(out["value"]):
                return out["value"]
            return out
        if kind == "LanguageProperty" and rep.lang is None and "languageMap" not in out:
            out["type"] = kind  # pragma: no cover - a LanguageProperty always has its map
        if holder not in out and "value" not in out:
            out["type"] = kind
    return out


#: members that make an object an attribute, not a value, when read back (clause 4.5.2.3)
_ATTRIBUTE_MEMBERS = ("type", "value", "object", "languageMap", "vocab", "valueList", "objectList")


def _reads_as_attribute(value: Any) -> bool:
    if isinstance(value, dict):
        return "json" in value or any(m in value for m in _ATTRIBUTE_MEMBERS)
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _plain(instance: dict[str, Any], skip: frozenset[str]) -> dict[str, Any]:
    """A normalized instance with no sub-attribute and no member to compact or choose from:
    its members as stored, `type` first, without those in `skip`."""
    plain = {"type": instance["type"]}
    for member, value in instance.items():
        if member not in skip:
            plain[member] = value
    return plain


#: instance members a normalized rendering copies as they are (or leaves out)
_COPIED = MEMBERS - {"vocab", "objectType", "valueType", "languageMap"}
#: what a normalized rendering of such an instance leaves out, without and with sysAttrs
_SKIP = frozenset({"type"}) | SYSTEM_MEMBERS
_SKIP_WITH_SYSTEM = frozenset({"type", "deletedAt"})


def _simple_value(instance: dict[str, Any], kind: str, terms: TermMap, lang: str | None) -> Any:
    member = VALUE_MEMBER[kind]
    value = instance.get(member)
    if kind == "VocabProperty":
        return {"vocab": _compact_names(value, terms)}
    if kind == "LanguageProperty":
        if lang is not None and isinstance(value, dict):
            return pick_language(value, lang)[0]
        return {"languageMap": value}
    if kind == "JsonProperty":
        return {"json": value}
    return value


def _compact_names(value: Any, terms: TermMap) -> Any:
    if isinstance(value, list):
        return [terms.compact(v) if isinstance(v, str) else v for v in value]
    # (a `valueType` stored before it was a member is a sub-Property: shown as it is)
    return terms.compact(value) if isinstance(value, str) else value


def language_value(instance: dict[str, Any], wanted: str) -> Any:
    """A LanguageProperty instance's text in the language `wanted` chooses (clause 4.15)."""
    language_map = instance.get("languageMap")
    return pick_language(language_map, wanted)[0] if isinstance(language_map, dict) else None


def pick_language(language_map: dict[str, Any], wanted: str) -> tuple[Any, str]:
    """Choose a language from a languageMap per an Accept-Language-like `lang` (clause 4.15)."""
    ranked: list[tuple[float, str]] = []
    for position, part in enumerate(wanted.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality + position * 1e-6, tag.strip()))
    for _, tag in sorted(ranked):
        if tag == "*":
            break
        if tag in language_map:
            return language_map[tag], tag
        # language tags are case-insensitive (RFC 5646 section 2.1.1): the whole tag, then its
        # primary language subtag
        wanted_tag = tag.lower()
        for key in language_map:
            if key.lower() == wanted_tag:
                return language_map[key], key
        primary = wanted_tag.split("-")[0]
        for key in language_map:
            if key.lower().split("-")[0] == primary:
                return language_map[key], key
    if "@none" in language_map:
        return language_map["@none"], "@none"
    first = next(iter(language_map), None)
    return (language_map[first], first) if first is not None else ("", "@none")


def feature(entity_out: dict[str, Any], geometry_attr: str, keys_only: bool) -> dict[str, Any]:
    """A GeoJSON Feature from a rendered entity (clause 4.5.16)."""
    geometry_value = entity_out.get(geometry_attr)
    geometry = None
    if keys_only and isinstance(geometry_value, dict) and "dataset" in geometry_value:
        # a simplified multi-attribute: the default instance's geometry, else the first
        datasets = geometry_value["dataset"]
        geometry_value = datasets.get("@none", next(iter(datasets.values()), None))
    if isinstance(geometry_value, dict):
        geometry = geometry_value if keys_only else geometry_value.get("value", geometry_value)
    elif isinstance(geometry_value, list) and geometry_value:
        # several instances: the default one (no datasetId), else the first, as keyValues has
        # it (clause 4.5.16.1); a `datasetId` parameter has left only the instances it selects
        chosen = next(
            (i for i in geometry_value if isinstance(i, dict) and "datasetId" not in i),
            geometry_value[0],
        )
        is_instance = isinstance(chosen, dict) and "value" in chosen
        geometry = chosen.get("value") if is_instance else chosen
    properties = {k: v for k, v in entity_out.items() if k != "id"}
    # an id left out by `pick`/`omit` is no member, never `null`, which RFC 7946 (section
    # 3.2: "either a JSON string or number") does not allow (cons-9)
    identified = {"id": entity_out["id"]} if entity_out.get("id") is not None else {}
    return {
        **identified,
        "type": "Feature",
        "properties": properties,
        # an attribute that holds no GeoJSON geometry gives none (clause 4.5.16.1)
        "geometry": geometry if _is_geometry(geometry) else None,
    }


def _is_geometry(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") in GEOJSON_TYPES
        and isinstance(value.get("coordinates"), list)
    )


def feature_collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


DEFAULT_GEOMETRY_ATTRIBUTE = LOCATION
