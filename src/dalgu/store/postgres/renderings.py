"""Kept default renderings (`DefaultRendering`) on PostgreSQL: made again when the code that
made them changed.

As in the embedded store (`dalgu.store.sqlite.renderings`): each entity's row carries the bytes
the commonest read answers, written with its document; the `rendering` table names the version
that made the kept ones. Under another version every entity is rendered again, a chunk per
transaction, by one process at a time (an advisory lock: workers that start together wait for
the first and then find the version current).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from dalgu.store.base import DefaultRendering

log = logging.getLogger(__name__)

#: entities rendered again per transaction when the version changed
CHUNK = 1000
#: the advisory lock that makes one process at a time render again ("rendr")
RENDERING_LOCK = 0x72656E6472

_CHUNK = "SELECT ent, doc FROM entities WHERE ent > $1 ORDER BY ent LIMIT $2"
_WRITE = """
UPDATE entities e SET rendered = r.rendered
FROM unnest($1::bigint[], $2::bytea[]) AS r(ent, rendered) WHERE e.ent = r.ent
"""


async def refresh(conn: Any, rendering: DefaultRendering) -> int:
    """Bring every kept rendering to `rendering.version`; the number of entities rendered."""
    await conn.execute("SELECT pg_advisory_lock($1)", RENDERING_LOCK)
    try:
        version = await conn.fetchval("SELECT version FROM rendering")
        if version == rendering.version:
            return 0
        done = 0
        last = 0
        while True:
            async with conn.transaction():
                rows = await conn.fetch(_CHUNK, last, CHUNK)
                if rows:
                    await conn.execute(
                        _WRITE,
                        [ent for ent, _ in rows],
                        [rendering.render(orjson.loads(doc)) for _, doc in rows],
                    )
                else:
                    await conn.execute("DELETE FROM rendering")
                    await conn.execute(
                        "INSERT INTO rendering (version) VALUES ($1)", rendering.version
                    )
            if not rows:
                break
            done += len(rows)
            last = rows[-1][0]
        if done:
            log.info(
                "entity renderings made again",
                extra={"entities": done, "version": rendering.version},
            )
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", RENDERING_LOCK)
