"""Kept default renderings (`DefaultRendering`): made again when the code that made them changed.

Each entity's row carries, beside its document, the bytes the commonest read answers (see
`DefaultRendering`); writes make them in the same statement as the document. The `rendering`
table names the version that made the kept ones. A store opened under another version (an
upgrade that changed the rendering or the core @context) renders every entity again before it
serves: a read never sends bytes another version made.
"""

from __future__ import annotations

import logging
import sqlite3

import orjson

from dalgu.store.base import DefaultRendering

log = logging.getLogger(__name__)

#: entities rendered again per transaction when the version changed
CHUNK = 1000


def refresh(db: sqlite3.Connection, rendering: DefaultRendering) -> int:
    """Bring every kept rendering to `rendering.version`; the number of entities rendered."""
    row = db.execute("SELECT version FROM rendering").fetchone()
    if row is not None and row[0] == rendering.version:
        return 0
    done = 0
    last = 0
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = db.execute(
                "SELECT ent, doc FROM entities WHERE ent > ? ORDER BY ent LIMIT ?", (last, CHUNK)
            ).fetchall()
            if rows:
                db.executemany(
                    "UPDATE entities SET rendered = ? WHERE ent = ?",
                    [(rendering.render(orjson.loads(doc)), ent) for ent, doc in rows],
                )
            else:
                db.execute("DELETE FROM rendering")
                db.execute("INSERT INTO rendering (version) VALUES (?)", (rendering.version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
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
