"""What `/types` and `/attributes` report, kept up to date by the writes instead of counted.

Counting it from the entities walked every attribute of every entity (at 100,000 vehicles:
200 ms for `/types`, 600 ms for `/attributes`, the server's one core busy all that time).
Three small tables hold it instead, each a count by key:

- `type_entities (tenant, type)`: the entities of each type;
- `type_attributes (tenant, type, name, kind)`: the attribute instances of each name and
  attribute type (`Property`, `Relationship`, ...) that entities of each type hold;
- `attribute_instances (tenant, name, kind)`: the same by name alone (an entity of two types
  counts once here).

A batch of writes adds up its changes in memory (`AttributeSummary`) and writes each changed
key once, in the batch's transaction: a batch of 1,000 new vehicles changes 11 rows. The
counts are those of the attribute index's instance markers (path `#`), which they replace for
these answers.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
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

    def _attribute(
        self, tenant: str, types: Sequence[str], iri: str, kinds: Sequence[str], sign: int
    ) -> None:
        for kind in kinds:
            self.named[(tenant, iri, kind)] += sign
            for t in types:
                self.typed[(tenant, t, iri, kind)] += sign

    def flush(self, db: sqlite3.Connection) -> None:
        typed_entities: Counter[_TypeKey] = Counter()
        for (tenant, types, attributes), n in self.shapes.items():
            for t in types:
                typed_entities[(tenant, t)] += n
            for iri, kinds in attributes:
                self._attribute(tenant, types, iri, kinds, n)
        self.shapes.clear()
        for table, key, counts in (
            ("type_entities", ("tenant", "type"), typed_entities),
            ("type_attributes", ("tenant", "type", "name", "kind"), self.typed),
            ("attribute_instances", ("tenant", "name", "kind"), self.named),
        ):
            changed = [(*k, n) for k, n in counts.items() if n]
            if not changed:
                continue
            columns = ", ".join(key)
            db.executemany(
                f"INSERT INTO {table} ({columns}, n) VALUES ({', '.join('?' * len(key))}, ?) "
                f"ON CONFLICT ({columns}) DO UPDATE SET n = n + excluded.n",
                changed,
            )
            if any(n < 0 for *_, n in changed):
                db.execute(f"DELETE FROM {table} WHERE n <= 0")


def types(db: sqlite3.Connection, tenant: str) -> list[TypeInfo]:
    counts = dict(
        db.execute("SELECT type, n FROM type_entities WHERE tenant = ? ORDER BY type", (tenant,))
    )
    attributes: dict[str, dict[str, set[str]]] = {t: {} for t in counts}
    for type_name, name, kind in db.execute(
        "SELECT type, name, kind FROM type_attributes WHERE tenant = ?", (tenant,)
    ):
        if type_name in attributes:
            attributes[type_name].setdefault(name, set()).add(kind)
    return [
        TypeInfo(t, counts[t], {n: frozenset(k) for n, k in attributes[t].items()}) for t in counts
    ]


def attributes(db: sqlite3.Connection, tenant: str) -> list[AttributeInfo]:
    counts: Counter[str] = Counter()
    kinds: dict[str, set[str]] = {}
    typed: dict[str, set[str]] = {}
    for name, kind, n in db.execute(
        "SELECT name, kind, n FROM attribute_instances WHERE tenant = ?", (tenant,)
    ):
        counts[name] += n
        kinds.setdefault(name, set()).add(kind)
    for name, type_name in db.execute(
        "SELECT DISTINCT name, type FROM type_attributes WHERE tenant = ?", (tenant,)
    ):
        typed.setdefault(name, set()).add(type_name)
    return [
        AttributeInfo(n, counts[n], frozenset(kinds[n]), frozenset(typed.get(n, ())))
        for n in sorted(counts)
    ]
