"""The PostgreSQL store's one-time migration that indexes stored JsonProperty values
(`dalgu.store.json_reindex`), through the row diff of its writes (`EntityBatch.reindex`)."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from dalgu.store.base import Entity
from dalgu.store.json_reindex import MARK, as_indexed_before
from dalgu.store.postgres.batch import EntityBatch
from dalgu.store.postgres.keys import AttributeKeys

log = logging.getLogger(__name__)

#: entities read, diffed and written at a time
CHUNK = 500

# the documents that hold the mark, of every tenant, in key order
_CANDIDATES = """
SELECT ent, tenant, doc FROM entities
WHERE ent > $1 AND position($2::bytea IN doc) > 0
ORDER BY ent LIMIT $3
"""


async def index_json_values(conn: Any) -> None:
    """Inside the migration's transaction (and lock): rewrite the index rows of every entity
    holding a JsonProperty from those the older code made to today's."""
    keys = AttributeKeys()  # the migration's own: the store's learns keys as it reads them
    mark = MARK.encode()
    last, done = 0, 0
    while True:
        rows = await conn.fetch(_CANDIDATES, last, mark, CHUNK)
        if not rows:
            if done:
                log.info("JsonProperty values indexed", extra={"entities": done})
            return
        by_tenant: dict[str, list[tuple[int, Entity, Entity]]] = {}
        for ent, tenant, doc in rows:
            entity = orjson.loads(doc)
            before = as_indexed_before(entity)
            if before is not None:  # not a word in some string value
                by_tenant.setdefault(tenant, []).append((ent, before, entity))
        for tenant, entities in by_tenant.items():
            await EntityBatch(conn, tenant, keys).reindex(entities)
            done += len(entities)
        last = rows[-1][0]
