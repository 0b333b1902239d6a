"""What `/types` and `/attributes` report, as counts a batch of writes changes.

Counting it from the entities walked every attribute of every entity (at 100,000 vehicles:
200 ms on SQLite and 1.5-1.9 s on PostgreSQL for each answer, the server busy all that time).
Each store keeps the counts instead, changed by its writes in their transaction:

- the entities of each type;
- the attribute instances of each name and attribute type (`Property`, `Relationship`, ...)
  that entities of each type hold;
- the same by name alone (an entity of two types counts once here).

`AttributeSummary` adds up one batch's changes in memory; the stores write them (`sqlite/
summary.py`, `postgres/summary.py`) and build the answers with `type_infos` and
`attribute_infos`. The counts are those of the attribute index's instance markers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from dalgu.broker.model import attribute_iris
from dalgu.store.base import AttributeInfo, Entity, TypeInfo

_TypeKey = tuple[str, str]  # tenant, type
_TypedKey = tuple[str, str, str, str]  # tenant, type, attribute name, attribute type
_NamedKey = tuple[str, str, str]  # tenant, attribute name, attribute type
# tenant, types, and each attribute's name with the attribute type of each of its instances
_Shape = tuple[str, tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]


def _kinds(instances: list[dict[str, Any]]) -> list[str]:
    """The attribute type of each instance, as the index's markers hold it."""
    return [instance.get("type", "Property") for instance in instances]


class AttributeSummary:
    """The changes of one batch of writes to the summary tables."""

    def __init__(self) -> None:
        # entities created (+1) and deleted (-1) by their shape: the entities of a batch are
        # mostly of a few shapes, which are expanded into counts once, at `flush`
        self.shapes: Counter[_Shape] = Counter()
        self.typed: Counter[_TypedKey] = Counter()
        self.named: Counter[_NamedKey] = Counter()

    def add(self, tenant: str, entity: Entity, sign: int = 1) -> None:
        """An entity created (`sign` 1) or deleted (-1)."""
        attributes = tuple([(iri, tuple(_kinds(entity[iri]))) for iri in attribute_iris(entity)])
        self.shapes[(tenant, tuple(entity.get("type", ())), attributes)] += sign

    def change(self, tenant: str, before: Entity, after: Entity, changed: list[str]) -> None:
        """An entity updated; `changed`: the attributes whose index rows may differ."""
        if before.get("type") != after.get("type"):
            self.add(tenant, before, -1)
            self.add(tenant, after)
            return
        types = after.get("type", [])
        for iri in changed:
            old, new = _kinds(before.get(iri, [])), _kinds(after.get(iri, []))
            if old != new:  # a value changed alone leaves the counts as they are
                self._attribute(tenant, types, iri, old, -1)
                self._attribute(tenant, types, iri, new, 1)

    def counts(self) -> tuple[Counter[_TypeKey], Counter[_TypedKey], Counter[_NamedKey]]:
        """(entities by tenant and type, instances by tenant, type, name and attribute type,
        instances by tenant, name and attribute type): the batch's changes, zeros left out."""
        typed_entities: Counter[_TypeKey] = Counter()
        typed, named = Counter(self.typed), Counter(self.named)
        for (tenant, types, attributes), n in self.shapes.items():
            for t in types:
                typed_entities[(tenant, t)] += n
            for iri, kinds in attributes:
                for kind in kinds:
                    named[(tenant, iri, kind)] += n
                    for t in types:
                        typed[(tenant, t, iri, kind)] += n
        return _nonzero(typed_entities), _nonzero(typed), _nonzero(named)

    def _attribute(
        self, tenant: str, types: Sequence[str], iri: str, kinds: Sequence[str], sign: int
    ) -> None:
        for kind in kinds:
            self.named[(tenant, iri, kind)] += sign
            for t in types:
                self.typed[(tenant, t, iri, kind)] += sign


def _nonzero(counts: Counter[Any]) -> Counter[Any]:
    return Counter({key: n for key, n in counts.items() if n})


def type_infos(
    entities: Iterable[tuple[str, int]], attributes: Iterable[tuple[str, str, str]]
) -> list[TypeInfo]:
    """The answer of `types` from (type, entities) and (type, name, attribute type) rows."""
    counts = {t: n for t, n in entities if n > 0}
    names: dict[str, dict[str, set[str]]] = {t: {} for t in counts}
    for type_name, name, kind in attributes:
        if type_name in names:
            names[type_name].setdefault(name, set()).add(kind)
    return [
        TypeInfo(t, counts[t], {n: frozenset(k) for n, k in names[t].items()})
        for t in sorted(counts)
    ]


def attribute_infos(
    instances: Iterable[tuple[str, str, int]], typed: Iterable[tuple[str, str]]
) -> list[AttributeInfo]:
    """The answer of `attributes` from (name, attribute type, instances) and (name, type)."""
    counts: Counter[str] = Counter()
    kinds: dict[str, set[str]] = {}
    type_names: dict[str, set[str]] = {}
    for name, kind, n in instances:
        if n > 0:
            counts[name] += n
            kinds.setdefault(name, set()).add(kind)
    for name, type_name in typed:
        type_names.setdefault(name, set()).add(type_name)
    return [
        AttributeInfo(n, counts[n], frozenset(kinds[n]), frozenset(type_names.get(n, ())))
        for n in sorted(counts)
    ]
