"""Subscriptions compiled for matching, and a tenant's index of them by type and attribute."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, TypeAlias
from urllib.parse import unquote

from dalgu.ldcontext import TermMap
from dalgu.query.ast import (
    GeoQuery,
    QExpr,
    TypeAnd,
    TypeExpr,
    TypeName,
    TypeOr,
    expand_values,
    map_names,
)
from dalgu.query.geo import parse_geoquery
from dalgu.query.q import parse_q
from dalgu.query.typesel import parse_type_selection
from dalgu.store.indexing import IndexRow
from dalgu.subscriptions.guards import Guard, GuardedSet, guard_of
from dalgu.subscriptions.model import attribute_names, is_type_selection

RowIndex: TypeAlias = dict[tuple[str, str], list[IndexRow]]


class CompiledSubscription:
    """A subscription with its filters parsed and names expanded, cached per version."""

    def __init__(self, doc: dict[str, Any], terms: TermMap, output: TermMap | None = None) -> None:
        """`terms` expand the subscription's own names; `output` (its jsonldContext, if it
        has one) compacts the notifications."""
        self.doc = doc
        self.names = terms
        self.terms = output or terms
        q = unquote(doc["q"]) if "q" in doc else None  # the suite writes `name=="a%20b"`
        self.q: QExpr | None = map_names(parse_q(q), terms.expand) if q is not None else None
        expanded = attribute_names(doc.get("expandValues"), "expandValues")
        if self.q is not None and expanded:  # clause 4.9, as a query's `expandValues`
            names = frozenset(terms.expand(name) for name in expanded)
            self.q = expand_values(self.q, names, terms.expand)
        # selectors' types: one IRI, or a type selection (`(Building|Tower)`) with IRIs
        self.types: list[TypeExpr] = [
            _expand_types(parse_type_selection(t), terms.expand)
            if is_type_selection(t)
            else TypeName(t)
            for t in (s["type"] for s in doc.get("entities") or ())
        ]
        self.geo: GeoQuery | None = None
        if "geoQ" in doc:
            g = doc["geoQ"]
            geo = parse_geoquery(g["georel"], g["geometry"], g["coordinates"], g.get("geoproperty"))
            self.geo = replace(geo, geoproperty=terms.expand(geo.geoproperty))
        self.guard: Guard | None = guard_of(self.q)
        #: the outbox position it was created at: changes at or below it came before it
        self.origin = 0


Compiled: TypeAlias = CompiledSubscription


def _expand_types(expr: TypeExpr, expand: Callable[[str], str]) -> TypeExpr:
    if isinstance(expr, TypeName):
        return TypeName(expand(expr.name))
    terms = tuple(_expand_types(t, expand) for t in expr.terms)
    return TypeAnd(terms) if isinstance(expr, TypeAnd) else TypeOr(terms)


def type_names(expr: TypeExpr) -> list[str]:
    if isinstance(expr, TypeName):
        return [expr.name]
    return [name for t in expr.terms for name in type_names(t)]


class SubscriptionIndex:
    """A tenant's subscriptions by entity type and, for those without entity selectors, by
    watched attribute: a change is checked only against subscriptions that could match it.
    Those on a type whose `q` requires a comparison are found by the entity's values
    (`guards`), not tested one by one."""

    def __init__(self, subscriptions: list[CompiledSubscription]) -> None:
        self.by_type: dict[str, list[Compiled]] = defaultdict(list)
        self.guarded: dict[str, GuardedSet[Compiled]] = defaultdict(GuardedSet)
        self.by_type_attribute: dict[tuple[str, str], list[CompiledSubscription]] = defaultdict(
            list
        )
        self.by_attribute: dict[str, list[Compiled]] = defaultdict(list)
        self.on_delete: dict[str, list[Compiled]] = defaultdict(list)
        for sub in subscriptions:
            types = {name for expr in sub.types for name in type_names(expr)}
            watched = sub.doc.get("watchedAttributes") or ()
            for type_iri in types:
                if watched:
                    for attr in watched:
                        self.by_type_attribute[(type_iri, attr)].append(sub)
                    self.on_delete[type_iri].append(sub)  # entityDeleted ignores watching
                elif sub.guard is not None:
                    self.guarded[type_iri].add(sub.guard, sub)
                else:
                    self.by_type[type_iri].append(sub)
            if not types:
                for attr in watched:
                    self.by_attribute[attr].append(sub)

    def candidates(
        self,
        types: Iterable[str],
        touched: Iterable[str],
        deleted: bool,
        rows: Callable[[], RowIndex],
    ) -> list[CompiledSubscription]:
        """`rows`: the entity's index rows (built only if a guarded subscription needs them)."""
        seen: dict[str, Compiled] = {}
        touched = list(touched)
        for type_iri in types:
            for sub in self.by_type.get(type_iri, ()):
                seen[sub.doc["id"]] = sub
            guarded = self.guarded.get(type_iri)
            if guarded:
                found: list[Compiled] = []
                guarded.select(rows(), found)
                for sub in found:
                    seen[sub.doc["id"]] = sub
            for attr in touched:
                for sub in self.by_type_attribute.get((type_iri, attr), ()):
                    seen[sub.doc["id"]] = sub
            if deleted:
                for sub in self.on_delete.get(type_iri, ()):
                    seen[sub.doc["id"]] = sub
        for attr in touched:
            for sub in self.by_attribute.get(attr, ()):
                seen[sub.doc["id"]] = sub
        return list(seen.values())
