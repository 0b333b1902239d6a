"""The index rows a batch of entity writes changes, written with one statement per table.

A `mutate` call may touch an entity several times; only its first and last states matter to
the index, so each entity is written once, at the end. An entity that existed keeps the rows
that did not change: a measure that changes one value rewrites that value's row, not the
entity's markers, units, static attributes, types or scopes (each row written costs its table
and its indexes a B-tree update, and the WAL the pages they dirty).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from dalgu.broker.model import attribute_iris
from dalgu.jsonbytes import dumps
from dalgu.store.base import DefaultRendering, Entity
from dalgu.store.indexing import (
    IndexRow,
    attribute_rows,
    changed_attributes,
    changed_in_place,
    geo_rows,
    multi_valued,
)
from dalgu.store.sqlite.collation_prefix import row_prefix
from dalgu.store.sqlite.geo import bounding_box
from dalgu.store.sqlite.near import point_columns
from dalgu.store.sqlite.summary import flush as flush_summary
from dalgu.store.summary import AttributeSummary

# (path, seq): a row's key within its entity and attribute; `seq` numbers the rows of one
# attribute (see the migration that made it so): rows of unchanged attributes are not computed
_AttrKey = tuple[str, int]


class IndexWrites:
    """Statements of one batch, grouped by table; `flush` runs them in a safe order."""

    def __init__(self, db: sqlite3.Connection, rendering: DefaultRendering | None = None) -> None:
        self.db = db
        self.render = rendering.render if rendering is not None else None
        (self.next_ent,) = db.execute("SELECT coalesce(max(ent), 0) FROM entities").fetchone()
        (self.next_gid,) = db.execute("SELECT coalesce(max(gid), 0) FROM geo").fetchone()
        self.removed: list[tuple[int]] = []  # entities whose every row goes
        self.docs: list[tuple[bytes, bytes | None, int]] = []
        self.entities: list[tuple[Any, ...]] = []
        self.types_cleared: list[tuple[int]] = []
        self.retyped: list[tuple[str | None, int]] = []  # (type1, ent): see `sole_type`
        self.scopes_cleared: list[tuple[int]] = []
        self.geo_cleared: list[tuple[int]] = []
        self.types: list[tuple[Any, ...]] = []
        self.scopes: list[tuple[Any, ...]] = []
        self.attrs_gone: list[tuple[Any, ...]] = []
        self.attrs: list[tuple[Any, ...]] = []
        self.multi_gone: list[tuple[Any, ...]] = []
        self.multi: list[tuple[Any, ...]] = []
        self.geometries: list[tuple[Any, ...]] = []
        self.boxes: list[tuple[Any, ...]] = []
        self.summary = AttributeSummary()

    def create(self, tenant: str, entity_id: str, entity: Entity) -> int:
        self.next_ent += 1
        ent: int = self.next_ent
        render = self.render
        rendered = None if render is None else render(entity)
        self.entities.append((ent, tenant, entity_id, dumps(entity), rendered, sole_type(entity)))
        self._types(tenant, ent, entity)
        self._scopes(ent, entity)
        attrs, multi = self.attrs, self.multi
        for iri in attribute_iris(entity):
            rows = attribute_rows(iri, entity[iri])
            attrs.extend([(ent, seq, tenant, *row) for seq, row in enumerate(rows)])
            if len(rows) > 2:  # a marker and one value are never multi-valued
                multi.extend((ent, tenant, name, path) for name, path in multi_valued(rows))
        self._geometries(tenant, ent, entity)
        self.summary.add(tenant, entity)
        return ent

    def delete(self, tenant: str, ent: int, before: Entity) -> None:
        self.removed.append((ent,))
        self.summary.add(tenant, before, -1)

    def update(self, tenant: str, ent: int, before: Entity, after: Entity) -> None:
        """Rewrite the document; change only the index rows that differ."""
        render = self.render
        self.docs.append((dumps(after), None if render is None else render(after), ent))
        if before.get("type") != after.get("type"):
            self.types_cleared.append((ent,))
            self.retyped.append((sole_type(after), ent))
            self._types(tenant, ent, after)
        if before.get("scope") != after.get("scope"):
            self.scopes_cleared.append((ent,))
            self._scopes(ent, after)
        self.reindex(tenant, ent, before, after)

    def reindex(self, tenant: str, ent: int, before: Entity, after: Entity) -> None:
        """Change the attribute index rows of `before` that differ in `after`, and the counts;
        types, scopes and the document are `update`'s (a migration that rewrites the rows an
        older version made calls this alone: the document stays as it is)."""
        changed = changed_attributes(before, after)
        self.summary.change(tenant, before, after, changed)
        if not changed:
            return
        geometry_changed = False
        for iri in changed:
            old_instances = before.get(iri, [])
            new_instances = after.get(iri, [])
            in_place = changed_in_place(iri, old_instances, new_instances)
            if in_place is not None:  # a new reading of a Property: no geometry, same keys
                self.attrs.extend([(ent, seq, tenant, *row) for seq, row in in_place])
                continue
            old_rows = attribute_rows(iri, old_instances)
            new_rows = attribute_rows(iri, new_instances)
            if _same_keys(old_rows, new_rows):
                # the usual update (a new value, a new observedAt): same rows, some values
                # differ; which of them hold several values is the same too
                for seq, (old_row, row) in enumerate(zip(old_rows, new_rows, strict=True)):
                    if old_row != row:  # INSERT OR REPLACE: a changed value replaces its row
                        self.attrs.append((ent, seq, tenant, *row))
            else:
                self._rekey(tenant, ent, iri, old_rows, new_rows)
            if not geometry_changed:
                geometry_changed = _shapes(old_instances) != _shapes(new_instances)
        if geometry_changed:  # every geometry is written again
            self.geo_cleared.append((ent,))
            self._geometries(tenant, ent, after)

    def _rekey(
        self, tenant: str, ent: int, iri: str, old_rows: list[IndexRow], new_rows: list[IndexRow]
    ) -> None:
        """Rows of an attribute whose rows changed in number or place."""
        old = _keyed(old_rows)
        new = _keyed(new_rows)
        for key, row in old.items():
            if key not in new:
                self.attrs_gone.append((ent, iri, row.path, key[1]))
        for key, row in new.items():
            if old.get(key) != row:  # INSERT OR REPLACE: a changed value replaces its row
                self.attrs.append((ent, key[1], tenant, *row))
        old_multi, new_multi = set(multi_valued(old_rows)), multi_valued(new_rows)
        self.multi_gone.extend((ent, n, p) for n, p in old_multi.difference(new_multi))
        self.multi.extend((ent, tenant, n, p) for n, p in new_multi if (n, p) not in old_multi)

    def _types(self, tenant: str, ent: int, entity: Entity) -> None:
        self.types.extend((tenant, t, ent) for t in entity.get("type", []))

    def _scopes(self, ent: int, entity: Entity) -> None:
        self.scopes.extend((ent, s) for s in entity.get("scope", []))

    def _geometries(self, tenant: str, ent: int, entity: Entity) -> None:
        for geo in geo_rows(entity):
            box = bounding_box(geo.geometry)
            if box is None:
                continue
            self.next_gid += 1
            x, y = point_columns(geo.geometry)
            self.geometries.append(
                (self.next_gid, ent, tenant, geo.name, dumps(geo.geometry), x, y)
            )
            self.boxes.append((self.next_gid, box[0], box[2], box[1], box[3]))

    def flush(self) -> None:
        """Deletions first, then the new rows: each entity appears once in the batch."""
        db = self.db
        cleared_geo = self.removed + self.geo_cleared
        if cleared_geo:
            db.executemany(
                "DELETE FROM geo_rtree WHERE gid IN (SELECT gid FROM geo WHERE ent = ?)",
                cleared_geo,
            )
            db.executemany("DELETE FROM geo WHERE ent = ?", cleared_geo)
        if self.removed:
            db.executemany("DELETE FROM attrs WHERE ent = ?", self.removed)
            db.executemany("DELETE FROM attrs_multi WHERE ent = ?", self.removed)
            db.executemany("DELETE FROM entities WHERE ent = ?", self.removed)
        if self.removed or self.types_cleared:
            db.executemany(
                "DELETE FROM entity_types WHERE ent = ?", self.removed + self.types_cleared
            )
        if self.removed or self.scopes_cleared:
            db.executemany(
                "DELETE FROM entity_scopes WHERE ent = ?", self.removed + self.scopes_cleared
            )
        if self.attrs_gone:
            db.executemany(
                "DELETE FROM attrs WHERE ent = ? AND name = ? AND path = ? AND seq = ?",
                self.attrs_gone,
            )
        if self.multi_gone:
            db.executemany(
                "DELETE FROM attrs_multi WHERE ent = ? AND name = ? AND path = ?", self.multi_gone
            )
        if self.docs:
            db.executemany("UPDATE entities SET doc = ?, rendered = ? WHERE ent = ?", self.docs)
        if self.retyped:  # apart: an update of `type1` rewrites the entity's key index entry
            db.executemany("UPDATE entities SET type1 = ? WHERE ent = ?", self.retyped)
        if self.entities:
            db.executemany(
                "INSERT INTO entities (ent, tenant, id, doc, rendered, type1) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                self.entities,
            )
        if self.geometries:
            db.executemany(
                "INSERT INTO geo (gid, ent, tenant, name, geometry, px, py) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                self.geometries,
            )
            db.executemany(
                "INSERT INTO geo_rtree (gid, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)",
                self.boxes,
            )
        if self.types:
            db.executemany(
                "INSERT OR IGNORE INTO entity_types (tenant, type, ent) VALUES (?, ?, ?)",
                self.types,
            )
        if self.scopes:
            db.executemany(
                "INSERT OR IGNORE INTO entity_scopes (ent, scope) VALUES (?, ?)", self.scopes
            )
        if self.attrs:
            # a value's string keeps its collation prefix where a number keeps the number
            db.executemany(
                "INSERT OR REPLACE INTO attrs (ent, seq, tenant, name, path, kind, num, txt) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (*row[:6], row_prefix(row[4], row[7]), row[7]) if row[5] == "s" else row
                    for row in self.attrs
                ],
            )
        if self.multi:
            db.executemany(
                "INSERT OR IGNORE INTO attrs_multi (ent, tenant, name, path) VALUES (?, ?, ?, ?)",
                self.multi,
            )
        flush_summary(db, self.summary)


def sole_type(entity: Entity) -> str | None:
    """The entity's type when it has only one (the `type1` column), else None."""
    types = entity.get("type", [])
    return types[0] if len(types) == 1 else None


def _same_keys(old: list[IndexRow], new: list[IndexRow]) -> bool:
    """Whether two row lists of an attribute have the same keys (path, place) and markers in
    the same places: then only values can differ."""
    if len(old) != len(new):
        return False
    for a, b in zip(old, new, strict=True):
        if a.path != b.path or (a.kind == "#") != (b.kind == "#"):
            return False
    return True


def _shapes(instances: list[dict[str, Any]]) -> list[Any]:
    """The geometries an attribute's instances index (`geo_rows`, for one attribute)."""
    return [
        instance["value"]
        for instance in instances
        if instance.get("type") == "GeoProperty" and isinstance(instance.get("value"), dict)
    ]


def _keyed(rows: list[IndexRow]) -> dict[_AttrKey, IndexRow]:
    return {(row.path, seq): row for seq, row in enumerate(rows)}
