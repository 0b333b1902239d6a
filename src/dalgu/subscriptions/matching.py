"""Does a committed change concern a subscription, and why (clause 5.8.x, 4.9, 4.10, 4.19).

`q` is evaluated in Python over the same index rows the stores build (`store.indexing`), so
a subscription and a query agree on what matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dalgu.broker.model import attribute_iris
from dalgu.query.ast import (
    ATTRIBUTE_MEMBERS,
    And,
    AttrPath,
    Comparison,
    Exists,
    GeoQuery,
    Linked,
    Or,
    QExpr,
    QList,
    QRange,
    QValue,
    TypeExpr,
    TypeName,
    type_holds,
    unresolved,
)
from dalgu.query.geo import distance_m
from dalgu.query.regex import searches
from dalgu.query.scope import parse_scope_query, scope_matches
from dalgu.store.base import Entity
from dalgu.store.indexing import (
    RELATIONSHIP_TYPES,
    IndexRow,
    canonical_datetime,
    index_rows,
    relationship_marker,
    same_but_times,
    temporal_shape,
)
from dalgu.store.indexing import literal_key as _literal
from dalgu.store.system_times import system_time


@dataclass(slots=True)
class Trigger:
    """What a change did, as notification triggers name it."""

    entity_created: bool = False
    entity_deleted: bool = False
    created: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    # the instances each deleted attribute lost (all of them, or those of some datasetIds)
    removed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # of the view of some datasets: a created entity with none of their instances has
    # created no attribute there
    view: bool = False

    @property
    def touched(self) -> set[str]:
        return self.created | self.updated | self.deleted


def diff(before: Entity | None, after: Entity | None) -> Trigger:
    trigger = Trigger(entity_created=before is None, entity_deleted=after is None)
    old = {a: before[a] for a in attribute_iris(before)} if before else {}
    new = {a: after[a] for a in attribute_iris(after)} if after else {}
    for name in new.keys() - old.keys():
        trigger.created.add(name)
    for name in old.keys() - new.keys():
        trigger.deleted.add(name)
        trigger.removed[name] = list(old[name])
    for name in new.keys() & old.keys():
        if new[name] == old[name]:
            continue
        old_by = {i.get("datasetId"): i for i in old[name]}
        new_by = {i.get("datasetId"): i for i in new[name]}
        gone = [i for key, i in old_by.items() if key not in new_by]
        if gone:
            trigger.deleted.add(name)
            trigger.removed[name] = gone
        if any(key not in old_by or _changed(old_by[key], i) for key, i in new_by.items()):
            trigger.updated.add(name)
    return trigger


def view_datasets(sub: dict[str, Any]) -> frozenset[str] | None:
    """The datasetIds whose instances a subscription sees (`@none`: the default instance),
    None for all."""
    value = sub.get("datasetId")
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list) and value:
        return frozenset(str(v) for v in value)
    return None


def dataset_view(entity: Entity | None, datasets: frozenset[str]) -> Entity | None:
    """The entity as its instances of `datasets` make it (clause 4.5.5.1: "different "views"
    of Entities"), an attribute with none of them left out ("the Attribute shall not be
    returned")."""
    if entity is None:
        return None
    names = set(attribute_iris(entity))
    view: Entity = {k: v for k, v in entity.items() if k not in names}
    for name in names:
        kept = [i for i in entity[name] if i.get("datasetId", "@none") in datasets]
        if kept:
            view[name] = kept
    return view


def _changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Clause 5.8.6: an attribute changes "when any of the members (including children) ...
    is updated with a value different than the existing one"; writing the same value again
    (a device resending a reading without a new observedAt) changes only its modifiedAt."""
    return not same_but_times(old, new)


def _wanted(sub: dict[str, Any]) -> set[str]:
    wanted = set(sub.get("notificationTrigger") or ("attributeCreated", "attributeUpdated"))
    if "entityUpdated" in wanted:
        wanted |= {"attributeCreated", "attributeUpdated", "attributeDeleted"}
    return wanted


def trigger_reason(sub: dict[str, Any], trigger: Trigger) -> str | None:
    """The notification trigger this change fires for `sub`, or None."""
    wanted = _wanted(sub)
    watched = set(sub.get("watchedAttributes") or ())
    if trigger.entity_created:
        if "entityCreated" in wanted and (not watched or watched & trigger.created):
            return "entityCreated"
        if "attributeCreated" in wanted and (
            watched & trigger.created if watched else trigger.created or not trigger.view
        ):
            return "attributeCreated"
        return None
    if trigger.entity_deleted:
        if "entityDeleted" in wanted:
            return "entityDeleted"
        if "attributeDeleted" in wanted and (not watched or watched & trigger.deleted):
            return "attributeDeleted"
        return None
    checks = (
        ("attributeCreated", trigger.created),
        ("attributeUpdated", trigger.updated),
        ("attributeDeleted", trigger.deleted),
    )
    for reason, names in checks:
        if reason in wanted and names and (not watched or watched & names):
            return reason
    return None


def selects(sub: dict[str, Any], entity: Entity, types: Sequence[TypeExpr] = ()) -> bool:
    """Does an entity selector of `sub` select `entity`; `types` are the selectors' compiled
    types (IRIs or type selections), else each selector's `type` IRI."""
    selectors = sub.get("entities")
    if not selectors:
        return True
    has = set(entity.get("type", ()))
    for n, selector in enumerate(selectors):
        wanted = types[n] if n < len(types) else TypeName(selector.get("type", ""))
        if not type_holds(wanted, has):
            continue
        if "id" in selector and selector["id"] != entity["id"]:
            continue
        if "idPattern" in selector and not searches(selector["idPattern"], entity["id"]):
            continue
        return True
    return False


def scope_ok(scope_q: str | None, entity: Entity) -> bool:
    return scope_q is None or scope_matches(parse_scope_query(scope_q), entity.get("scope", []))


def geo_ok(geo: GeoQuery | None, entity: Entity) -> bool:
    if geo is None:
        return True
    from shapely.geometry import shape

    for instance in entity.get(geo.geoproperty, []):
        value = instance.get("value")
        if not isinstance(value, dict):
            continue
        geometry = shape(value)
        if _geo_relation(geo, geometry, distance_m):
            return True
    return False


def _geo_relation(geo: GeoQuery, geometry: Any, distance_m: Any) -> bool:
    query = geo.shape
    if geo.georel == "near":
        d = distance_m(geometry, query)
        return (geo.max_distance is None or d <= geo.max_distance) and (
            geo.min_distance is None or d >= geo.min_distance
        )
    relation = {
        "within": geometry.within,
        "contains": geometry.contains,
        "intersects": geometry.intersects,
        "equals": geometry.equals,
        "disjoint": geometry.disjoint,
        "overlaps": geometry.overlaps,
    }[geo.georel]
    return bool(relation(query))


RowIndex = dict[tuple[str, str], list[IndexRow]]


def row_index(entity: Entity) -> RowIndex:
    """An entity's index rows by (attribute, path): built once per change, shared by every
    subscription tested against it."""
    index: RowIndex = {}
    for row in index_rows(entity):
        index.setdefault((row.name, row.path), []).append(row)
    return index


def q_ok(expr: QExpr | None, entity: Entity, rows: RowIndex | None = None) -> bool:
    if expr is None:
        return True
    index = rows if rows is not None else row_index(entity)
    timed = _system_times(expr)
    if timed:  # not index rows: read from the entity (`store.system_times`)
        index = {**index}
        for attr, member in timed:
            index[(attr, "." + member)] = [
                IndexRow(attr, "." + member, "s", None, canonical_datetime(instance[member]))
                for instance in entity.get(attr) or ()
                if isinstance(instance, dict) and isinstance(instance.get(member), str)
            ]
    return _evaluate(expr, index)


@lru_cache(maxsize=1024)
def _system_times(expr: QExpr) -> frozenset[tuple[str, str]]:
    """The (attribute, `createdAt`/`modifiedAt`) pairs `expr` compares or asks for."""
    if isinstance(expr, And | Or):
        return frozenset().union(*(_system_times(t) for t in expr.terms))
    if isinstance(expr, Linked):
        return frozenset()
    member = system_time(expr.path)
    return frozenset() if member is None else frozenset({(expr.path.attr, member)})


@lru_cache(maxsize=4096)
def _paths(path: AttrPath) -> tuple[str, str]:
    """(marker or member path, value path) of a q attribute path."""
    base = "".join(f".{s}" for s in path.sub)
    value_path = base + "".join(f"[{k}]" for k in path.compound)
    member = bool(path.sub) and path.sub[-1] in ATTRIBUTE_MEMBERS
    return (base if member else base + "#"), value_path


def _evaluate(expr: QExpr, rows: RowIndex) -> bool:
    if isinstance(expr, And):
        return all(_evaluate(t, rows) for t in expr.terms)
    if isinstance(expr, Or):
        return any(_evaluate(t, rows) for t in expr.terms)
    if isinstance(expr, Linked):
        raise unresolved(expr)
    path = expr.path
    if isinstance(expr, Exists):
        return _present(path, rows)
    objects = relationship_marker(expr)
    if objects is not None and any(
        r.txt in RELATIONSHIP_TYPES for r in rows.get((path.attr, objects), ())
    ):
        return False  # clause 4.9: a Relationship takes `==` and `!=` only
    candidates = rows.get((path.attr, _paths(path)[1]), ())
    if expr.op == "!~=":  # clause 4.9: a value of another type than String is not matching
        candidates = [r for r in candidates if r.kind == "s"]
    hit = any(_compare(expr, r) for r in candidates)
    if expr.op == "!=":
        # where the target element is, whatever its value (a JSON object, an empty array), as
        # the stores' queries have it: values of different data types are unequal
        return not hit and _present(path, rows)
    return bool(candidates) and not hit if expr.op == "!~=" else hit


def _present(path: AttrPath, rows: RowIndex) -> bool:
    """Whether the entity has the target element of `path` (an `Exists` term)."""
    marker, value_path = _paths(path)
    if path.compound:
        return any(
            name == path.attr and (p == value_path or p.startswith(value_path + "["))
            for name, p in rows
        )
    return (path.attr, marker) in rows


def _compare(expr: Comparison, row: IndexRow) -> bool:
    stored = row.num if row.kind in ("n", "b") else row.txt
    if expr.op in ("~=", "!~="):
        return row.kind == "s" and searches(str(expr.value.value), row.txt or "")  # type: ignore[union-attr]
    value = expr.value
    if isinstance(value, QRange):
        kind, low = _literal(value.low)
        _, high = _literal(value.high)
        in_range = row.kind == kind and stored is not None and low <= stored <= high
        return in_range and _of_shape(value.low, ">=", row)
    if isinstance(value, QList):
        return any(row.kind == k and stored == v for k, v in map(_literal, value.values))
    kind, typed = _literal(value)
    if row.kind != kind or stored is None:
        return False
    op = "==" if expr.op == "!=" else expr.op
    result: bool = {
        "==": stored == typed,
        ">": stored > typed,
        ">=": stored >= typed,
        "<": stored < typed,
        "<=": stored <= typed,
    }[op]
    return result and _of_shape(value, op, row)


def _of_shape(value: QValue, op: str, row: IndexRow) -> bool:
    """An ordering with a Date, Time or DateTime literal holds for values of that type only
    (clause 4.9), as the stores' queries have it."""
    shape = temporal_shape(value, op)
    return shape is None or re.match(shape[1], row.txt or "") is not None


def removed_shown(sub: dict[str, Any], trigger: Trigger, reason: str) -> dict[str, list[Any]]:
    """The deleted attribute instances a notification shows with the NGSI-LD Null: those the
    trigger is about (watched ones, if the subscription watches), or with showChanges every
    attribute of a deleted entity.

    A change that deleted attributes and created or updated others (a replace, a merge with a
    Null) fires one notification, named after its first reason; a subscription that wants
    attributeDeleted too sees the deleted ones in it (clause 5.8.6), not only the created."""
    show = bool(sub["notification"].get("showChanges"))
    deletions_wanted = reason == "attributeDeleted" or (
        reason in ("attributeCreated", "attributeUpdated") and "attributeDeleted" in _wanted(sub)
    )
    if not deletions_wanted and not (trigger.entity_deleted and show):
        return {}
    watched = set(sub.get("watchedAttributes") or ())
    if not watched or reason == "entityDeleted":
        return trigger.removed
    return {name: gone for name, gone in trigger.removed.items() if name in watched}


def watched_names(subs: Iterable[dict[str, Any]]) -> set[str]:
    return {a for s in subs for a in s.get("watchedAttributes", ())}
