"""Linked Entity Retrieval (clause 4.5.23): follow Relationships to the entities they target.

`join=inline` adds the target entity to each Relationship (an `entity` member; in keyValues
the target replaces the Relationship's value), nested to `joinLevel`; `join=flat` answers one
array, the linking entities first and then every linked entity once. Only entities stored
here are followed. Targets are fetched level by level with one `get_many` per level, never one
read per Relationship. A pick or omit may reach into linked entities (`locatedAt{id,name}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dalgu.broker.model import MEMBERS, Entity
from dalgu.broker.render import Representation, linked_representation, render_entity
from dalgu.ldcontext.termmap import TermMap
from dalgu.store.base import EntityStore

MAX_JOIN_LEVEL = 8


@dataclass(frozen=True, slots=True)
class Join:
    mode: Literal["inline", "flat"]
    level: int = 1


def relationship_targets(entity: Entity) -> list[str]:
    """The ids every Relationship instance of `entity` points at, in order, once each."""
    targets: dict[str, None] = {}
    for iri, instances in entity.items():
        if iri in MEMBERS or iri in ("id", "scope") or not isinstance(instances, list):
            continue
        for instance in instances:
            if isinstance(instance, dict) and instance.get("type") == "Relationship":
                objects = instance.get("object")
                for target in objects if isinstance(objects, list) else [objects]:
                    if isinstance(target, str):
                        targets[target] = None
    return list(targets)


async def fetch_linked(
    store: EntityStore, tenant: str, roots: list[Entity], level: int
) -> dict[str, Entity]:
    """Every entity reachable from `roots` in at most `level` hops, by id (roots included)."""
    known: dict[str, Entity] = {e["id"]: e for e in roots}
    frontier = roots
    for _ in range(level):
        wanted = [t for e in frontier for t in relationship_targets(e) if t not in known]
        if not wanted:
            break
        found = await store.get_many(tenant, list(dict.fromkeys(wanted)))
        known.update(found)
        frontier = list(found.values())
    return known


def render_inline(
    entity: Entity,
    known: dict[str, Entity],
    terms: TermMap,
    rep: Representation,
    level: int,
) -> dict[str, Any]:
    """The entity with its linked entities inside its Relationships, `level` deep."""
    out = render_entity(entity, terms, rep)
    if level <= 0:
        return out
    for iri, instances in entity.items():
        name = terms.compact(iri) if iri not in ("id", "type", "scope") else None
        if name is None or name not in out or not isinstance(instances, list):
            continue
        kinds = [i.get("type") for i in instances if isinstance(i, dict)]
        if "Relationship" not in kinds:
            continue
        nested = linked_representation(rep, name, terms)
        rendered = out[name]
        pieces = rendered if isinstance(rendered, list) and len(instances) > 1 else [rendered]
        joined = []
        for instance, piece in zip(instances, pieces, strict=False):
            target_id = instance.get("object") if isinstance(instance, dict) else None
            target = known.get(target_id) if isinstance(target_id, str) else None
            if target is None or instance.get("type") != "Relationship":
                joined.append(piece)
                continue
            inner = render_inline(target, known, terms, nested, level - 1)
            if rep.format == "keyValues":
                joined.append(inner)
            elif isinstance(piece, dict):
                joined.append({**piece, "entity": inner})
            else:
                joined.append(piece)
        out[name] = joined if isinstance(rendered, list) and len(instances) > 1 else joined[0]
    return out


def render_flat(
    roots: list[Entity],
    known: dict[str, Entity],
    terms: TermMap,
    rep: Representation,
    level: int,
) -> list[dict[str, Any]]:
    """The linking entities, then every linked entity once, each rendered on its own."""
    out = [render_entity(e, terms, rep) for e in roots]
    seen = {e["id"] for e in roots}
    frontier: list[tuple[Entity, Representation]] = [(e, rep) for e in roots]
    for _ in range(level):
        following: list[tuple[Entity, Representation]] = []
        for entity, entity_rep in frontier:
            for iri, instances in entity.items():
                if iri in MEMBERS or iri in ("id", "scope") or not isinstance(instances, list):
                    continue
                if (entity_rep.attrs is not None and iri not in entity_rep.attrs) or (
                    iri in entity_rep.omit
                ):
                    continue  # projected away: its targets are not part of the answer
                nested = linked_representation(entity_rep, terms.compact(iri), terms)
                for target_id in relationship_targets({iri: instances}):
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
