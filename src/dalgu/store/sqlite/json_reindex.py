"""The SQLite store's one-time migration that indexes stored JsonProperty values
(`dalgu.store.json_reindex`), through the row diff of its writes (`IndexWrites.reindex`)."""

from __future__ import annotations

import logging
import sqlite3

import orjson

from dalgu.store.json_reindex import MARK, as_indexed_before
from dalgu.store.sqlite.rows import IndexWrites

log = logging.getLogger(__name__)

#: entities read, diffed and written at a time
CHUNK = 500

# the documents (BLOBs) that hold the mark, of every tenant, in key order
_CANDIDATES = (
    "SELECT ent, tenant, doc FROM entities WHERE ent > ? AND instr(doc, ?) > 0 ORDER BY ent LIMIT ?"
)


def index_json_values(db: sqlite3.Connection) -> None:
    """Inside the migration's transaction: rewrite the index rows of every entity holding a
    JsonProperty from those the older code made to today's."""
    mark = MARK.encode()
    last, done = 0, 0
    while True:
        rows = db.execute(_CANDIDATES, (last, mark, CHUNK)).fetchall()
        if not rows:
            if done:
                log.info("JsonProperty values indexed", extra={"entities": done})
            return
        writes = IndexWrites(db)
        for ent, tenant, doc in rows:
            entity = orjson.loads(doc)
            before = as_indexed_before(entity)
            if before is not None:  # not a word in some string value
                writes.reindex(tenant, ent, before, entity)
                done += 1
        writes.flush()
        last = rows[-1][0]
