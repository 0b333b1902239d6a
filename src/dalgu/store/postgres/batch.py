"""One `mutate` call as one transaction: lock, apply the mutations, write rows in bulk.

The stored entities are read with `SELECT … FOR UPDATE` in id order (concurrent batches lock in
the same order, so they queue instead of deadlocking), every mutation runs in Python against
the current state, and only the final state of each touched entity is written: one statement
per table for the whole batch (arrays through `unnest`, index rows through binary COPY), not a
round trip per row. Of an updated entity only the index rows that changed are rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import orjson

from dalgu.broker.model import GEOJSON_TYPES, now_iso
from dalgu.errors import DalguError
from dalgu.jsonbytes import dumps
from dalgu.store.base import Change, DefaultRendering, Entity, Mutation, Outcome
from dalgu.store.indexing import (
    GeoRow,
    IndexRow,
    changed_attributes,
    geo_rows,
    index_rows,
    multi_valued,
    replaced_rows,
)
from dalgu.store.postgres.bulk import Columns, insert_rows
from dalgu.store.postgres.keys import AttributeKeys, Key
from dalgu.store.postgres.packed import pack, unpack
from dalgu.store.postgres.partitions import Partitions
from dalgu.store.postgres.summary import columns as summary_columns
from dalgu.store.postgres.summary import insert as summary_insert
from dalgu.store.postgres.summary import write as write_summary
from dalgu.store.postgres.temporal import HistoryWrite, history_of, write_history
from dalgu.store.summary import AttributeSummary

# One primary-key probe per id, in id order (concurrent batches lock in the same order and
# queue instead of deadlocking). The locking sub-select is never flattened into a join, so the
# plan does not depend on statistics: before the first ANALYZE of a growing table the planner
# took `tenant = $1` for selective and scanned, sorted and merged every entity of the tenant.
_LOCK = f"""
SELECT e.ent, e.id, e.doc FROM unnest({unpack(4, 2)}) AS k(id)
CROSS JOIN LATERAL (
    SELECT ent, id, doc FROM entities WHERE tenant = $1 AND id = k.id FOR UPDATE
) AS e
"""
Render: TypeAlias = Callable[[Entity], bytes]

_NEW_ENTS = "SELECT nextval('entity_ent_seq') FROM generate_series(1, $1)"
_INSERT = """
INSERT INTO entities
    (tenant, ent, id, types, scopes, scope_tree, created_at, modified_at, doc, rendered)
SELECT $1, r.* FROM unnest($2::entity_row[]) AS r
"""
# the same, recording what the batch's creates and deletes change of the tenant's summary in
# the same round trip (a statement of its own cost a single create ~10%)
_INSERT_COUNTED = f"WITH counted AS ({summary_insert(3)}) {_INSERT}"
_COUNT = summary_insert(1)
_UPDATE = """
UPDATE entities e SET types = r.types, scopes = r.scopes, scope_tree = r.scope_tree,
    created_at = r.created_at, modified_at = r.modified_at, doc = r.doc, rendered = r.rendered
FROM unnest($1::entity_row[]) AS r WHERE e.ent = r.ent
"""
# an update that keeps the types and scopes (a new reading): packed columns (`packed.py`) and
# the documents, cheaper to encode than rows of `entity_row`, and no type, scope or scope tree
# to send again
_UPDATE_DOCS = f"""
UPDATE entities e SET created_at = r.created_at, modified_at = r.modified_at, doc = r.doc,
    rendered = r.rendered
FROM unnest(
    ({unpack(3, 1)})::bigint[], {unpack(4, 1)}, {unpack(5, 1)}, $6::bytea[], $7::bytea[]
) AS r(ent, created_at, modified_at, doc, rendered)
WHERE e.ent = r.ent
"""
_DELETE = "DELETE FROM entities WHERE ent = ANY($1::bigint[])"
_CLEAR_NUM = "DELETE FROM attr_num WHERE ent = ANY($1::bigint[])"
_CLEAR_TXT = "DELETE FROM attr_txt WHERE ent = ANY($1::bigint[])"
_CLEAR_GEO = "DELETE FROM geo WHERE ent = ANY($1::bigint[])"
_CLEAR_MULTI = "DELETE FROM attr_multi WHERE ent = ANY($1::bigint[])"
_ADD_MULTI = """
INSERT INTO attr_multi (nid, ent) SELECT * FROM unnest($1::integer[], $2::bigint[])
ON CONFLICT DO NOTHING
"""
_REMOVE_MULTI = """
DELETE FROM attr_multi m USING unnest($1::integer[], $2::bigint[]) AS d(nid, ent)
WHERE m.nid = d.nid AND m.ent = d.ent
"""
_REMOVE_NUM = f"""
DELETE FROM attr_num a
USING unnest(({unpack(3, 1)})::bigint[], ({unpack(4, 1)})::integer[], {unpack(5, 1)}, $6::float8[])
    AS d(ent, nid, kind, num)
WHERE a.ent = d.ent AND a.nid = d.nid AND a.kind = d.kind::"char"
    AND a.num IS NOT DISTINCT FROM d.num
"""
_REMOVE_TXT = f"""
DELETE FROM attr_txt a
USING unnest(
    ({unpack(3, 1)})::bigint[], ({unpack(4, 1)})::integer[], {unpack(5, 1)}, {unpack(6, 1)}
) AS d(ent, nid, kind, txt)
WHERE a.ent = d.ent AND a.nid = d.nid AND a.kind = d.kind::"char" AND a.txt = d.txt
"""
_NUM_COLUMNS: Columns = (("ent", "int8"), ("nid", "int4"), ("kind", '"char"'), ("num", "float8"))
_TXT_COLUMNS: Columns = (("ent", "int8"), ("nid", "int4"), ("kind", '"char"'), ("txt", "text"))
_KINDS = {kind: kind.encode() for kind in "#nbsz"}
_TEXT_KINDS = frozenset("#s")
# a self-intersecting polygon is stored as given and indexed as its valid equivalent; a
# position's altitude (a third number, RFC 7946 3.1.1) is kept in the document, not indexed
_GEO = """
INSERT INTO geo (ent, nid, geom, geog)
SELECT u.ent, u.nid, s.geom, geography(s.geom)
FROM unnest($1::bigint[], $2::integer[], $3::text[]) AS u(ent, nid, g)
CROSS JOIN LATERAL (
    SELECT ST_SetSRID(ST_Force2D(ST_MakeValid(ST_GeomFromGeoJSON(u.g))), 4326) AS geom
) AS s
"""


def scope_tree(scopes: list[str]) -> list[str]:
    """Every scope with all its ancestors: `/a/b` → `/a`, `/a/b`."""
    tree: dict[str, None] = {}
    for scope in scopes:
        segments = scope.split("/")[1:]
        for end in range(1, len(segments) + 1):
            tree["/" + "/".join(segments[:end])] = None
    return list(tree)


def _entity_row(ent: int, entity_id: str, entity: Entity, render: Render | None) -> tuple[Any, ...]:
    scopes = list(entity.get("scope", []))
    return (
        ent,
        entity_id,
        list(entity.get("type", [])),
        scopes,
        scope_tree(scopes),
        entity.get("createdAt"),
        entity.get("modifiedAt"),
        dumps(entity),
        None if render is None else render(entity),
    )


def _same_types_and_scopes(before: Entity, after: Entity) -> bool:
    return before.get("type") == after.get("type") and before.get("scope") == after.get("scope")


class EntityBatch:
    """The work of one `mutate` inside its transaction on `conn`."""

    def __init__(
        self,
        conn: Any,
        tenant: str,
        keys: AttributeKeys,
        partitions: Partitions | None = None,
        rendering: DefaultRendering | None = None,
    ) -> None:
        self.conn = conn
        self.render = None if rendering is None else rendering.render
        self.tenant = tenant
        self.keys = keys
        self.partitions = partitions  # None: record no temporal history
        self.added_keys: dict[Key, int] = {}
        self.added_partitions: list[str] = []

    async def run(self, items: Sequence[tuple[str, Mutation]]) -> list[Outcome]:
        ids = sorted({entity_id for entity_id, _ in items})
        stored: dict[str, tuple[int, Entity]] = {
            entity_id: (ent, orjson.loads(doc))
            for ent, entity_id, doc in await self.conn.fetch(_LOCK, self.tenant, *pack(ids))
        }
        current: dict[str, Entity | None] = {i: stored[i][1] for i in stored}
        touched: dict[str, None] = {}
        outcomes: list[Outcome] = []
        for entity_id, mutation in items:
            before = current.get(entity_id)
            try:
                after = mutation(before)
            except DalguError as error:
                outcomes.append(error)
                continue
            current[entity_id] = after
            touched[entity_id] = None
            outcomes.append(Change(entity_id, before, after))
        changes = [o for o in outcomes if isinstance(o, Change)]
        history = changes if self.partitions is not None else []
        written = await self._write(stored, {i: current[i] for i in touched}, history)
        if written is not None and self.partitions is not None:
            self.added_partitions = await write_history(self.conn, self.partitions, written)
        return outcomes

    async def _write(
        self,
        stored: dict[str, tuple[int, Entity]],
        final: dict[str, Entity | None],
        changes: list[Change],
    ) -> HistoryWrite | None:
        """Write the entities, then their index rows; return the history of `changes` (None
        without any), made while the database runs the entity statements."""
        conn = self.conn
        created = [i for i, e in final.items() if e is not None and i not in stored]
        new_ents: list[int] = []
        if created:
            new_ents = [r[0] for r in await conn.fetch(_NEW_ENTS, len(created))]
        ents = dict(zip(created, new_ents, strict=True))
        deleted: list[int] = []
        updates: list[tuple[Any, ...]] = []
        docs: list[tuple[int, Any, Any, Entity]] = []
        inserts: list[tuple[Any, ...]] = []
        indexed: list[tuple[int, Entity | None, Entity]] = []
        summary = AttributeSummary()
        for entity_id, entity in final.items():
            old = stored.get(entity_id)
            if entity is None:
                if old is not None:
                    deleted.append(old[0])
                    summary.add(self.tenant, old[1], -1)
                continue
            if old is not None:
                ent, before = old
                if _same_types_and_scopes(before, entity):
                    docs.append((ent, entity.get("createdAt"), entity.get("modifiedAt"), entity))
                else:
                    updates.append(_entity_row(ent, entity_id, entity, self.render))
            else:
                ent = ents[entity_id]
                inserts.append(_entity_row(ent, entity_id, entity, self.render))
                summary.add(self.tenant, entity)
            indexed.append((ent, None if old is None else old[1], entity))
        # The entity statements run while this process works out the index rows and the
        # history (Python only): the database and the client overlap instead of taking turns.
        counted = summary_columns(summary)  # of creates and deletes
        entities = asyncio.ensure_future(
            self._write_entities(deleted, updates, docs, inserts, counted)
        )
        await asyncio.sleep(0)  # let it send its first statement
        try:
            index = _IndexChanges(self.tenant, AttributeSummary())
            for row_ent, old_state, new_state in indexed:
                index.add(row_ent, old_state, new_state)
            history = history_of(self.tenant, changes, now_iso()) if changes else None
        except BaseException:
            entities.cancel()
            with contextlib.suppress(BaseException):
                await entities
            raise
        await entities
        await self._index(index)
        # what updates changed of the summary (an attribute's type, the entity's types): rare
        await write_summary(conn, index.summary)
        return history

    async def reindex(self, entities: Sequence[tuple[int, Entity, Entity]]) -> None:
        """Change the index rows of stored entities, each given as (`ent`, the state its rows
        were made from, the entity), where they differ; the documents stay as they are (a
        migration that rewrites the rows an older version made)."""
        index = _IndexChanges(self.tenant, AttributeSummary())
        for ent, before, after in entities:
            index.add(ent, before, after)
        await self._index(index)
        await write_summary(self.conn, index.summary)

    async def _write_entities(
        self,
        deleted: list[int],
        updates: list[tuple[Any, ...]],
        docs: list[tuple[int, Any, Any, Entity]],
        inserts: list[tuple[Any, ...]],
        counted: list[list[Any]],
    ) -> None:
        conn = self.conn
        if deleted:
            await conn.execute(_CLEAR_NUM, deleted)
            await conn.execute(_CLEAR_TXT, deleted)
            await conn.execute(_CLEAR_GEO, deleted)
            await conn.execute(_CLEAR_MULTI, deleted)
            await conn.execute(_DELETE, deleted)
        if updates:
            await conn.execute(_UPDATE, updates)
        if docs:
            render = self.render
            await conn.execute(
                _UPDATE_DOCS,
                *pack([str(d[0]) for d in docs], [d[1] for d in docs], [d[2] for d in docs]),
                [dumps(d[3]) for d in docs],
                [None if render is None else render(d[3]) for d in docs],
            )
        if inserts and counted:
            await conn.execute(_INSERT_COUNTED, self.tenant, inserts, *counted)
        elif inserts:
            await conn.execute(_INSERT, self.tenant, inserts)
        elif counted:
            await conn.execute(_COUNT, *counted)

    async def _index(self, index: _IndexChanges) -> None:
        pairs = {(row.name, row.path) for _, row in index.removed}
        pairs.update((row.name, row.path) for _, row in index.added)
        pairs.update((shape.name, "#") for _, shape in index.shapes)
        pairs.update(pair for _, pair in index.multi_added)
        pairs.update(pair for _, pair in index.multi_removed)
        if not pairs and not index.cleared_geo:
            return
        nids, self.added_keys = await self.keys.ensure(self.conn, self.tenant, pairs)
        conn = self.conn
        removed, added = _split(index.removed), _split(index.added)
        if removed[0]:
            rows = removed[0]
            await conn.execute(
                _REMOVE_NUM,
                *pack(
                    [str(ent) for ent, _ in rows],
                    [str(nids[(row.name, row.path)]) for _, row in rows],
                    [row.kind for _, row in rows],
                ),
                [row.num for _, row in rows],
            )
        if removed[1]:
            rows = removed[1]
            await conn.execute(
                _REMOVE_TXT,
                *pack(
                    [str(ent) for ent, _ in rows],
                    [str(nids[(row.name, row.path)]) for _, row in rows],
                    [row.kind for _, row in rows],
                    [row.txt for _, row in rows],
                ),
            )
        if added[0]:
            records = [
                (ent, nids[(row.name, row.path)], _KINDS[row.kind], row.num)
                for ent, row in added[0]
            ]
            await insert_rows(conn, "attr_num", _NUM_COLUMNS, records)
        if added[1]:
            texts = [
                (ent, nids[(row.name, row.path)], _KINDS[row.kind], row.txt)
                for ent, row in added[1]
            ]
            await insert_rows(conn, "attr_txt", _TXT_COLUMNS, texts)
        for statement, several in (
            (_REMOVE_MULTI, index.multi_removed),
            (_ADD_MULTI, index.multi_added),
        ):
            if several:
                await conn.execute(
                    statement, [nids[pair] for _, pair in several], [ent for ent, _ in several]
                )
        if index.cleared_geo:
            await self.conn.execute(_CLEAR_GEO, index.cleared_geo)
        if index.shapes:
            shapes = index.shapes
            await self.conn.execute(
                _GEO,
                [ent for ent, _ in shapes],
                [nids[(shape.name, "#")] for _, shape in shapes],
                [orjson.dumps(shape.geometry).decode() for _, shape in shapes],
            )


class _IndexChanges:
    """Index and geometry rows to remove and add so that they match the new entities.

    An update usually changes a few values (a new measurement, its observedAt); writing only
    the rows that differ keeps the index tables from churning (and bloating) on every update.
    """

    def __init__(self, tenant: str, summary: AttributeSummary) -> None:
        self.tenant = tenant
        self.summary = summary  # what the updates change of the tenant's counts
        self.removed: list[tuple[int, IndexRow]] = []
        self.added: list[tuple[int, IndexRow]] = []
        self.cleared_geo: list[int] = []
        self.shapes: list[tuple[int, GeoRow]] = []
        # (attribute, path) pairs of an entity that came to hold several values, or ceased to
        self.multi_added: list[tuple[int, tuple[str, str]]] = []
        self.multi_removed: list[tuple[int, tuple[str, str]]] = []

    def add(self, ent: int, before: Entity | None, after: Entity) -> None:
        if before is None:
            rows = index_rows(after)
            self.added.extend((ent, row) for row in rows)
            self.multi_added.extend((ent, pair) for pair in multi_valued(rows))
            self.shapes.extend((ent, shape) for shape in _shapes(after))
            return
        # Only attributes whose instances changed (beyond their times) can have changed rows.
        changed = changed_attributes(before, after)
        self.summary.change(self.tenant, before, after, changed)
        if not changed:
            return
        # Rows of different attributes never meet (their keys differ): a plain reading's rows
        # are compared member by member, the other attributes' rows as wholes.
        removed: list[IndexRow] = []
        added: list[IndexRow] = []
        old: dict[str, Any] = {}
        new: dict[str, Any] = {}
        for iri in changed:
            if iri in before and iri in after:
                plain = replaced_rows(iri, before[iri], after[iri])
                if plain is not None:
                    removed.extend(plain[0])
                    added.extend(plain[1])
                    continue
            if iri in before:
                old[iri] = before[iri]
            if iri in after:
                new[iri] = after[iri]
        if old or new:
            old_list, new_list = index_rows(old), index_rows(new)
            old_multi, new_multi = set(multi_valued(old_list)), multi_valued(new_list)
            self.multi_removed.extend((ent, p) for p in old_multi.difference(new_multi))
            self.multi_added.extend((ent, p) for p in new_multi if p not in old_multi)
            old_set, new_set = set(old_list), set(new_list)
            if len(old_set) == len(old_list) and len(new_set) == len(new_list):
                # No row twice on either side (the usual case): a row on one side only changed.
                removed.extend(row for row in old_list if row not in new_set)
                added.extend(row for row in new_list if row not in old_set)
            else:
                self._add_counted(ent, Counter(old_list), Counter(new_list))
            old_shapes, new_shapes = _shapes(old), _shapes(new)
            if old_shapes != new_shapes:
                # Geometries of unchanged attributes are cleared too: write all of them again.
                if _shapes(before):
                    self.cleared_geo.append(ent)
                self.shapes.extend((ent, shape) for shape in _shapes(after))
        self.removed.extend((ent, row) for row in removed)
        self.added.extend((ent, row) for row in added)

    def _add_counted(
        self, ent: int, old_rows: Counter[IndexRow], new_rows: Counter[IndexRow]
    ) -> None:
        for row in old_rows.keys() | new_rows.keys():
            if old_rows[row] != new_rows[row]:
                # Remove every copy of a changed row, then add as many as there are now.
                if old_rows[row]:
                    self.removed.append((ent, row))
                self.added.extend([(ent, row)] * new_rows[row])


def _split(
    rows: list[tuple[int, IndexRow]],
) -> tuple[list[tuple[int, IndexRow]], list[tuple[int, IndexRow]]]:
    """(rows of `attr_num`, rows of `attr_txt`)."""
    numbers: list[tuple[int, IndexRow]] = []
    texts: list[tuple[int, IndexRow]] = []
    for item in rows:
        (texts if item[1].kind in _TEXT_KINDS else numbers).append(item)
    return numbers, texts


def _shapes(entity: Entity) -> list[GeoRow]:
    return [g for g in geo_rows(entity) if _is_geometry(g.geometry)]


def _is_geometry(geometry: dict[str, Any]) -> bool:
    return geometry.get("type") in GEOJSON_TYPES and isinstance(geometry.get("coordinates"), list)
