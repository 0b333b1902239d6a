"""Linked Entity Retrieval (clause 4.5.23): follow Relationships to the entities they target.

`join=inline` puts the linked entities inside the linking entity, nested to `joinLevel`: an
`entity` member on a Relationship (an array of entities when the Relationship has several
objects), an `entityList` member on a ListRelationship; in the simplified representation the
linked entities replace the target URIs (annex C.2.2). `join=flat` answers one array: the
linking entities, then every linked entity once, level by level (clause 4.5.23.3: always an
array). Only the attributes a response shows are followed, and only to entities stored here.

A URI already encountered is not followed again (clause 5.7.1.5): in the inline form, the
linking entity itself and the entities above it (a loop such as a city whose `hasBuilding`
points back at the building), in the flat form any entity the array already holds, and in both
the ids the request lists in `containedBy` (those a forwarding broker has already seen).

Targets are fetched level by level with one `get_many` per level, never one read per
Relationship.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from dalgu.broker.model import Entity
from dalgu.broker.render import LINKING, Representation, render_entity, visible_instances
from dalgu.ldcontext.termmap import TermMap
from dalgu.store.base import EntityStore

#: deepest joinLevel served; a deeper request is TooComplexQuery (inline answers grow with
#: every level a graph branches)
MAX_JOIN_LEVEL = 8


@dataclass(frozen=True, slots=True)
class Join:
    """What a request asks of Linked Entity Retrieval: `join`, `joinLevel`, `containedBy`."""

    mode: Literal["inline", "flat"]
    level: int = 1
    contained_by: frozenset[str] = frozenset()


def link_targets(instance: dict[str, Any]) -> list[str]:
    """The entity ids a Relationship (`object`, one or several) or ListRelationship
    (`objectList`) instance points at, in order."""
    kind = instance.get("type")
    if kind == "Relationship":
        objects = instance.get("object")
        targets = objects if isinstance(objects, list) else [objects]
    elif kind == "ListRelationship":
        targets = instance.get("objectList") or []
    else:
        return []
    return [t for t in targets if isinstance(t, str)]


def _links(entity: Entity, rep: Representation) -> Iterator[tuple[str, dict[str, Any]]]:
    """(attribute IRI, instance) of every Relationship and ListRelationship `rep` shows."""
    for iri, instances in visible_instances(entity, rep):
        for instance in instances:
            if isinstance(instance, dict) and instance.get("type") in LINKING:
                yield iri, instance


async def fetch_linked(
    store: EntityStore, tenant: str, roots: list[Entity], rep: Representation, join: Join
) -> dict[str, Entity]:
    """Every entity the response can show, by id (roots included): what the shown
    Relationships of `roots` reach in at most `join.level` hops, one `get_many` per level."""
    known: dict[str, Entity] = {e["id"]: e for e in roots}
    frontier: list[tuple[Entity, Representation]] = [(e, rep) for e in roots]
    for _ in range(join.level):
        reached: dict[tuple[str, Representation], None] = {}
        for entity, entity_rep in frontier:
            for iri, instance in _links(entity, entity_rep):
                nested = entity_rep.for_linked(iri)
                for target in link_targets(instance):
                    if target not in join.contained_by:
                        reached[(target, nested)] = None
        wanted = list(dict.fromkeys(t for t, _ in reached if t not in known))
        if wanted:
            known.update(await store.get_many(tenant, wanted))
        frontier = [(known[t], r) for t, r in reached if t in known]
        if not frontier:
            break
    return known


def render_inline(
    entity: Entity,
    known: dict[str, Entity],
    terms: TermMap,
    rep: Representation,
    join: Join,
) -> dict[str, Any]:
    """The entity with its linked entities inside its Relationships, `join.level` deep."""
    return _inline(entity, known, terms, rep, join.level, join.contained_by)


def _inline(
    entity: Entity,
    known: dict[str, Entity],
    terms: TermMap,
    rep: Representation,
    level: int,
    encountered: frozenset[str],
) -> dict[str, Any]:
    if level <= 0:
        return render_entity(entity, terms, rep)
    above = encountered | {entity["id"]}

    def link(iri: str, instance: dict[str, Any]) -> Any:
        nested = rep.for_linked(iri)
        pieces: list[Any] = []
        found = False
        for target_id in link_targets(instance):
            target = known.get(target_id) if target_id not in above else None
            if target is not None:
                found = True
                pieces.append(_inline(target, known, terms, nested, level - 1, above))
            elif rep.format == "keyValues":
                pieces.append(target_id)  # simplified: an unfollowed target stays a URI
        if not found:
            return None
        single = instance["type"] == "Relationship" and not isinstance(instance["object"], list)
        return pieces[0] if single else pieces

    return render_entity(entity, terms, rep, link)


def render_flat(
    roots: list[Entity],
    known: dict[str, Entity],
    terms: TermMap,
    rep: Representation,
    join: Join,
) -> list[dict[str, Any]]:
    """The linking entities, then every linked entity once, each rendered on its own."""
    out = [render_entity(e, terms, rep) for e in roots]
    seen = {e["id"] for e in roots} | join.contained_by
    frontier: list[tuple[Entity, Representation]] = [(e, rep) for e in roots]
    for _ in range(join.level):
        following: list[tuple[Entity, Representation]] = []
        for entity, entity_rep in frontier:
            for iri, instance in _links(entity, entity_rep):
                nested = entity_rep.for_linked(iri)
                for target_id in link_targets(instance):
                    target = known.get(target_id)
                    if target is None or target_id in seen:
                        continue
                    seen.add(target_id)
                    rendered = render_entity(target, terms, nested)
                    if rendered:
                        out.append(rendered)
                    following.append((target, nested))
        frontier = following
    return out
