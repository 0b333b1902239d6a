"""Reads across context sources (clauses 5.7.1.4, 5.7.2.4, 4.3.6.7): the request to each
claim, and the entities they answer merged with this broker's own.

An attribute both hold is merged by datasetId: an instance only one side has is kept; of two
with the same datasetId the one observed (or modified) last wins, this broker's on a tie. An
auxiliary source never overrides what this broker holds (clause 4.3.6.2).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dalgu.broker.model import MEMBERS, NOT_ATTRIBUTES, Entity, now_iso
from dalgu.broker.parse import attribute_iri, parse_entity
from dalgu.errors import DalguError
from dalgu.federation.routing import Claim, holds, id_matches
from dalgu.ldcontext.termmap import TermMap
from dalgu.query.ast import (
    QExpr,
    TypeExpr,
    has_linked,
    map_names,
    map_type_names,
    names_either,
    type_holds,
)
from dalgu.query.regex import searches
from dalgu.query.typesel import parse_type_selection
from dalgu.registrations.model import entity_types
from dalgu.store.base import EntityQuery
from dalgu.subscriptions.matching import geo_ok, q_ok

#: query parameters a forwarded query does not carry: paging, rendering and this broker's own
NOT_FORWARDED = frozenset(
    [
        "local",
        "limit",
        "offset",
        "count",
        "options",
        "format",
        "lang",
        "join",
        "joinLevel",
        "orderBy",
        "orderFrom",
        "orderGeometry",
        "collation",
        "pick",
        "omit",
        "entityMap",
        "doNotCompact",
        "geometryProperty",
        "via",
        "containedBy",
    ]
)


def restricted_params(
    given: Iterable[tuple[str, str]],
    claim: Claim,
    terms: TermMap,
    *,
    with_ids: bool = True,
) -> list[tuple[str, str]]:
    """The client's parameters for `claim`: the registration's ids and attributes added or
    intersected, as clause 4.3.6.1 asks (a distributed request respects the registration)."""
    params = [(k, v) for k, v in given if k not in NOT_FORWARDED]
    if any(k == "options" and "sysAttrs" in v.split(",") for k, v in given):
        params.append(("options", "sysAttrs"))  # the source's times, not the time of reading
    if with_ids:
        ids = registered_ids(claim)
        if ids and not any(k in ("id", "idPattern") for k, _ in params):
            params.append(("id", ",".join(ids)))
    if claim.attrs is not None:
        registered = sorted(terms.compact(iri) for iri in claim.attrs)
        for index, (key, value) in enumerate(params):
            if key == "attrs":
                asked = [a for a in value.split(",") if claim.takes(terms.expand(a))]
                params[index] = ("attrs", ",".join(asked or registered))
                break
        else:
            params.append(("attrs", ",".join(registered)))
    return params


def registered_ids(claim: Claim) -> list[str]:
    """The entity ids the claim's registration names, when it names them all by id."""
    ids: list[str] = []
    for info in claim.registration.get("information", ()):
        for entity in info.get("entities", ()) or [{}]:
            if "id" not in entity:
                return []
            ids.append(str(entity["id"]))
    return ids


def entities_params(
    given: list[tuple[str, str]], claim: Claim, terms: TermMap
) -> list[tuple[str, str]] | None:
    """The client's `type` (a name or an OR of names) and `id` cut to what the claim's
    registration registers for those types (clause 4.3.6.1: no additional types or ids);
    None when nothing is left, or its `datasetId`s and the client's have none in common, and
    the registration is not asked."""
    infos = [e for i in claim.registration.get("information", ()) for e in _entities(i)]
    asked = dict(given)
    names = _names_either(asked.get("type", ""))
    if names is not None:
        wanted = {terms.expand(n) for n in names}
        infos = [e for e in infos if e is None or wanted & set(entity_types(e))]
        if not infos:
            return None
        if all(e is not None for e in infos):
            held = {t for e in infos if e is not None for t in entity_types(e)}
            kept = [n for n in names if terms.expand(n) in held]
            if len(kept) < len(names):
                asked["type"] = ("|" if "|" in asked["type"] else ",").join(kept)
    elif asked.get("type"):  # with `;` (AND): some EntityInfo's types must hold it (5.12)
        selection = _selection(asked["type"], terms)
        if selection is not None:
            infos = [e for e in infos if e is None or type_holds(selection, set(entity_types(e)))]
            if not infos:
                return None
    registered = set(claim.registration.get("datasetId") or ())
    wanted = set(asked["datasetId"].split(",")) if "datasetId" in asked else set()
    if registered and wanted and not registered & wanted:  # clause 5.12: one in common
        return None
    if "id" in asked:
        ids = [i for i in asked["id"].split(",") if any(_may_be(e, i) for e in infos)]
        if not ids:
            return None
        asked["id"] = ",".join(ids)
    return [(key, asked[key]) if key in ("type", "id") else (key, v) for key, v in given]


def selector_meets(selector: Any, claim: Claim, terms: TermMap) -> bool:
    """May an EntitySelector of a Query (clause 5.2.33) select an entity the claim's
    registration registers?"""
    if not isinstance(selector, dict):
        return True
    names = _names_either(str(selector.get("type", "")))
    for info in claim.registration.get("information", ()):
        for entity in _entities(info):
            if entity is None:
                return True
            if names is not None and not {terms.expand(n) for n in names} & set(
                entity_types(entity)
            ):
                continue
            if "id" in selector and not _may_be(entity, str(selector["id"])):
                continue
            held = entity.get("id")
            if "idPattern" in selector and held is not None:
                meets = searches(str(selector["idPattern"]), str(held))
                if not meets:
                    continue
            return True
    return False


def registered(remote: Entity, claim: Claim) -> bool:
    """Does the claim's registration register this entity a source answered (its id, and its
    types when it gave any)? Clause 4.3.6.1: the registration's constraints are respected."""
    if not isinstance(remote.get("id"), str):
        return False
    return holds(claim.registration, remote["id"], remote.get("type") or None)


def selected(entity: Entity, query: EntityQuery, shown: frozenset[str] | None) -> bool:
    """Does `query` select `entity`, as sources answered it (ids, pattern, types, attrs)?
    `q` and the geo-query are checked when the sources were asked for every attribute they
    name (`shown`: the attributes asked, None: all), else a missing one may be left out."""
    if query.ids and entity["id"] not in query.ids:
        return False
    if query.id_pattern is not None and not searches(query.id_pattern, entity["id"]):
        return False
    if query.types is not None and not type_holds(query.types, set(entity.get("type", ()))):
        return False
    if query.attrs and not any(a in entity for a in query.attrs):
        return False
    # a linked term's entities are this broker's: a source answered it with its own
    checked = (
        query.q is not None
        and not has_linked(query.q)
        and (shown is None or q_names(query.q) <= shown)
    )
    if checked and not q_ok(query.q, entity):
        return False
    if query.geo is not None and (shown is None or query.geo.geoproperty in shown):
        return geo_ok(query.geo, entity)
    return True


def q_names(expr: QExpr) -> frozenset[str]:
    """The attributes a q expression names."""
    names: set[str] = set()

    def seen(name: str) -> str:
        names.add(name)
        return name

    map_names(expr, seen)
    return frozenset(names)


def shown_attributes(claim: Claim, asked: tuple[str, ...]) -> frozenset[str] | None:
    """The attributes a query forwarded to `claim` asks for (`asked`: the client's); None:
    all of them."""
    if claim.attrs is None:
        return frozenset(asked) if asked else None
    return frozenset(a for a in asked if claim.takes(a)) or claim.attrs


def _entities(info: dict[str, Any]) -> list[dict[str, Any] | None]:
    """A RegistrationInfo's EntityInfos; [None] when it names none (any entity)."""
    return list(info.get("entities") or ()) or [None]


def _may_be(entity: dict[str, Any] | None, entity_id: str) -> bool:
    """May the entity `entity_id` be one an EntityInfo (None: any) registers?"""
    return entity is None or id_matches(entity, entity_id)


def _names_either(text: str) -> tuple[str, ...] | None:
    """The names of a type selection that is a name or an OR of names; None otherwise."""
    if not text:
        return None
    try:
        return names_either(parse_type_selection(text.replace(",", "|")))
    except DalguError:
        return None


def _selection(text: str, terms: TermMap) -> TypeExpr | None:
    """A type selection, its names expanded; None if it does not parse."""
    try:
        return map_type_names(parse_type_selection(text), terms.expand)
    except DalguError:
        return None


_NOT_MERGED = NOT_ATTRIBUTES | {"type", "createdAt", "modifiedAt"}


def parse_remote(doc: Any, terms: TermMap) -> Entity | None:
    """An entity a context source answered with, expanded; None if it is not one. Its
    `createdAt` and `modifiedAt` (entity and attribute instances) are the source's, or none:
    not the time it was read (clause 4.8)."""
    if not isinstance(doc, dict):
        return None
    doc = {k: v for k, v in doc.items() if k != "@context"}
    try:
        entity = parse_entity(doc, terms, now_iso(), require_type=False)
    except DalguError:
        return None
    for key, given in doc.items():
        if key in NOT_ATTRIBUTES:
            continue
        instances = entity.get(attribute_iri(key, terms))
        if not isinstance(instances, list):
            continue
        sent = given if isinstance(given, list) else [given]
        for instance, told in zip(instances, sent, strict=False):
            _strip_times(instance)
            _source_times(instance, told)
    read_at = entity["createdAt"]
    _source_times(entity, doc)
    # the entity's own: a source's that gives none are its instances' span (an entity is
    # shown with both), and the time of reading only when those have none either
    held = [i for k, v in entity.items() if k not in NOT_ATTRIBUTES for i in v]
    created = [i["createdAt"] for i in held if "createdAt" in i]
    modified = [i["modifiedAt"] for i in held if "modifiedAt" in i]
    entity.setdefault("createdAt", min(created, default=read_at))
    entity.setdefault("modifiedAt", max(modified, default=entity["createdAt"]))
    return entity


def _source_times(parsed: dict[str, Any], given: Any) -> None:
    """`parsed`'s system times as `given` (a source's entity or instance) has them."""
    for member in ("createdAt", "modifiedAt"):
        told = given.get(member) if isinstance(given, dict) else None
        if isinstance(told, str):
            parsed[member] = told
        else:
            parsed.pop(member, None)


def _strip_times(instance: dict[str, Any]) -> None:
    """No system times in an instance's sub-attributes (nested ones too)."""
    for key, value in instance.items():
        if key not in MEMBERS and isinstance(value, dict):
            value.pop("createdAt", None)
            value.pop("modifiedAt", None)
            _strip_times(value)


def merge(local: Entity | None, remote: Entity, claim: Claim) -> Entity:
    """`remote` (from `claim`'s source) merged into `local` (which is not changed)."""
    if local is None:
        return _only_registered(remote, claim)
    merged = dict(local)
    auxiliary = claim.mode == "auxiliary"
    types = list(merged.get("type", []))
    for kind in remote.get("type", []):
        if kind not in types:
            types.append(kind)
    if types:
        merged["type"] = types
    for key, instances in remote.items():
        if key in _NOT_MERGED or not claim.takes(key):
            continue
        mine = merged.get(key)
        if mine is None:
            merged[key] = instances
        elif not auxiliary:
            merged[key] = _merge_instances(mine, instances)
    return merged


def _only_registered(remote: Entity, claim: Claim) -> Entity:
    if claim.attrs is None:
        return remote
    return {k: v for k, v in remote.items() if k in _NOT_MERGED or claim.takes(k)}


def _when(instance: dict[str, Any]) -> str:
    """When an instance was observed ("" if not said: this broker's copy wins the tie)."""
    return str(instance.get("observedAt") or "")


def _merge_instances(
    mine: list[dict[str, Any]], theirs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    by_dataset = {instance.get("datasetId"): instance for instance in mine}
    for instance in theirs:
        dataset = instance.get("datasetId")
        held = by_dataset.get(dataset)
        if held is None or _when(instance) > _when(held):
            by_dataset[dataset] = instance
    return list(by_dataset.values())
