"""The first pages of an `orderBy` on an attribute's numbers, from the value index.

As in the SQLite store (`store/sqlite/ordered.py`): numbers rank first in either direction
(clause 4.23.2), so when at least `offset + limit` matching entities hold a number at the
ordering path, the page is made of them alone. Without this PostgreSQL works out the
ordering value of every matching entity and sorts them all (`type=Vehicle&orderBy=speed`
over 100,000 vehicles: ~500 ms).

The numbers' index (`attr_num_value`) is read in order, the query's conditions tested on
each row's entity, until `offset + limit` distinct entities: the number at which the last of
them came is the bar. An entity's ordering value is its smallest (largest) number or boolean
there, so the page's entities all have a number on the bar's side of it or a boolean at the
path, which are the candidates the page is then ordered from. When fewer entities hold a
number the page reaches past them, and the query runs as before.
"""

from __future__ import annotations

from typing import Any

from dalgu.store.base import EntityQuery
from dalgu.store.postgres.query import NUM, Compiled, KeyMap, doc_member

# past this many entities before the page's end, reading the index in order costs about what
# ordering every match does
MAX_REACH = 10_000


async def page_candidates(
    conn: Any, query: EntityQuery, keys: KeyMap, where: str, c: Compiled
) -> str | None:
    """A condition on `e` that keeps every entity of the page and few others, or None.

    `where` and its parameters are `c`'s so far; the condition's are added to `c`."""
    if not query.order or query.limit <= 0:
        return None
    term = query.order[0]
    if term.entity_member or term.by_distance or doc_member(term):
        return None
    nid = keys.exact.get((term.attribute, term.path))
    reach = query.offset + query.limit
    if nid is None or reach > MAX_REACH:
        return None
    side, way = ("<=", "ASC") if not term.descending else (">=", "DESC")
    walk = Compiled()
    walk.params = list(c.params)
    # rows, not entities: one with several numbers comes once for each; read more if so
    rows = reach
    while True:
        found = await conn.fetch(
            f"SELECT a.ent, a.num FROM {NUM} a JOIN entities e ON e.ent = a.ent "
            f"WHERE a.nid = {walk.p(nid)} AND a.kind = 'n' AND {where} "
            f"ORDER BY a.num {way} LIMIT {walk.p(rows)}",
            *walk.params,
        )
        del walk.params[len(c.params) :]
        seen: set[int] = set()
        for ent, num in found:
            seen.add(ent)
            if len(seen) == reach:
                bar = num
                return (
                    f"e.ent IN (SELECT ent FROM {NUM} WHERE nid = {c.p(nid)} AND kind = 'n' "
                    f"AND num {side} {c.p(bar)} "
                    f"UNION SELECT ent FROM {NUM} WHERE nid = {c.p(nid)} AND kind = 'b')"
                )
        if len(found) < rows:
            return None  # fewer entities hold a number: the page reaches past them
        rows *= 4
