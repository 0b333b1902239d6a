"""Linked-entity terms of `q` (clause 4.9, examples 13 and 14): `sensor{Device:humidity}==40`
keeps the entities whose Relationship `sensor` targets an entity of type Device whose
`humidity` is 40.

Each `Linked` term is answered before the query runs: the entities its inner term selects
(innermost first, so `a{b{c}}` is two look-ups) become the objects the Relationship must
name, `sensor=="urn:…:Device:1","urn:…:Device:7"`, which both stores match from the index rows
of relationship objects. A term that selects no entity holds for no entity. The linked
entities are this broker's, in the query's tenant; more than `MAX_TARGETS` of them is a
TooComplexQuery (a tighter inner term or a type hint narrows it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from dalgu.errors import TooComplexQuery
from dalgu.query.ast import (
    And,
    AttrPath,
    Comparison,
    Linked,
    Or,
    QExpr,
    QList,
    QValue,
    TypeExpr,
    TypeName,
    TypeOr,
    has_linked,
)
from dalgu.store.base import EntityQuery, EntityStore, TemporalQuery

MAX_TARGETS = 5000  # linked entities one term may select

Query = TypeVar("Query", EntityQuery, TemporalQuery)


async def with_links_resolved(store: EntityStore, tenant: str, query: Query) -> Query | None:
    """`query` with the linked terms of its `q` answered (targets as they are now, for the
    temporal API too); None when the query selects nothing."""
    if query.q is None or not has_linked(query.q):
        return query
    q = await resolve_linked(store, tenant, query.q)
    return None if q is None else replace(query, q=q)


async def resolve_linked(store: EntityStore, tenant: str, expr: QExpr) -> QExpr | None:
    """`expr` with each `Linked` term replaced by a comparison of its Relationship's objects
    with the ids of the entities it selects; None when the whole expression holds for no
    entity (a linked term that selects none, where nothing else can make up for it)."""
    if isinstance(expr, And):
        parts = [await resolve_linked(store, tenant, t) for t in expr.terms]
        kept = [p for p in parts if p is not None]
        if len(kept) < len(parts):
            return None
        return kept[0] if len(kept) == 1 else And(tuple(kept))
    if isinstance(expr, Or):
        parts = [await resolve_linked(store, tenant, t) for t in expr.terms]
        kept = [p for p in parts if p is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else Or(tuple(kept))
    if not isinstance(expr, Linked):
        return expr
    inner = await resolve_linked(store, tenant, expr.term)
    if inner is None:
        return None
    found = await store.query(
        tenant, EntityQuery(types=_hint(expr.types), q=inner, limit=MAX_TARGETS + 1)
    )
    if len(found.documents) > MAX_TARGETS:
        raise TooComplexQuery(
            f"q: the linked-entity term on {expr.relationship} selects more than "
            f"{MAX_TARGETS} entities; narrow it with an entity type hint or a tighter condition"
        )
    ids = sorted({entity["id"] for entity in found.entities})
    if not ids:
        return None
    path = AttrPath(expr.relationship)
    if len(ids) == 1:
        return Comparison(path, "==", QValue("uri", ids[0]))
    return Comparison(path, "==", QList(tuple(QValue("uri", i) for i in ids)))


def _hint(types: tuple[str, ...]) -> TypeExpr | None:
    if not types:
        return None
    if len(types) == 1:
        return TypeName(types[0])
    return TypeOr(tuple(TypeName(t) for t in types))
