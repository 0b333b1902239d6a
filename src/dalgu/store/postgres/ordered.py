"""The first pages of an `orderBy` on an attribute's numbers or strings, from value indexes.

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
number the page reaches past them, and strings come next, when the ordering is in the root
collation (no `collation` parameter): `attr_txt_root` holds the plain strings (not times, dates
or date-times, which rank after every other string) in that collation. It is read in order,
leaving out entities with several values at the path, to the `offset + limit`-th match, whose
string is the bar; the candidates are the strings on its side, every entity holding a number
(numbers rank first in either direction) and the several-valued ones (`attr_multi`). When
fewer plain strings match, the query runs as before.
"""

from __future__ import annotations

from typing import Any

from dalgu.query.order import ROOT_COLLATION
from dalgu.store.base import EntityQuery
from dalgu.store.postgres.query import NUM, TXT, Compiled, KeyMap, doc_member
from dalgu.store.postgres.schema import LONG_STRING, PLAIN_STRING

# past this many entities before the page's end, reading the index in order costs about what
# ordering every match does
MAX_REACH = 10_000

ROOT = 'COLLATE "und-x-icu"'  # the collation of an ordering without `collation`


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
    found = await _numbers(conn, nid, reach, where, c, side, way)
    if found is None and query.collation == ROOT_COLLATION:
        found = await _strings(conn, nid, reach, where, c, side, way)
    return found


async def _numbers(
    conn: Any, nid: int, reach: int, where: str, c: Compiled, side: str, way: str
) -> str | None:
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


async def _strings(
    conn: Any, nid: int, reach: int, where: str, c: Compiled, side: str, way: str
) -> str | None:
    """Candidates of a page of the root collation's strings, or None: the walk reads the
    plain strings of entities with one value there (`attr_txt_root`, in that collation),
    and the bar is the `reach`-th one's."""
    walk = Compiled()
    walk.params = list(c.params)
    bar = await conn.fetchval(
        f"SELECT a.txt {ROOT} FROM {TXT} a JOIN entities e ON e.ent = a.ent "
        # the index's predicate, unqualified: of the two tables only attr_txt has the columns
        f"WHERE a.nid = {walk.p(nid)} AND {PLAIN_STRING} "
        "AND NOT EXISTS (SELECT 1 FROM attr_multi m WHERE m.nid = a.nid AND m.ent = a.ent) "
        f"AND {where} "
        f"ORDER BY a.txt {ROOT} {way} OFFSET {walk.p(reach - 1)} LIMIT 1",
        *walk.params,
    )
    if bar is None:
        return None  # fewer entities hold a plain string: the page reaches past them
    # numbers rank before strings in either direction; the several-valued are ordered by
    # what the walk of single values cannot tell
    return (
        f"e.ent IN (SELECT ent FROM {TXT} a WHERE a.nid = {c.p(nid)} AND {PLAIN_STRING} "
        f"AND a.txt {ROOT} {side} {c.p(bar)} "
        f"UNION SELECT ent FROM {NUM} WHERE nid = {c.p(nid)} AND kind = 'n' "
        f"UNION SELECT ent FROM attr_multi WHERE nid = {c.p(nid)} "
        # strings too long for the walk's index, on either side of the bar (a few, if any)
        f"UNION SELECT ent FROM {TXT} WHERE nid = {c.p(nid)} AND {LONG_STRING})"
    )
