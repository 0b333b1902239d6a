"""The first pages of an `orderBy` on an attribute's numbers or strings, from the value index.

Clause 4.23.2 ranks numbers first, in either direction, so when at least `offset + limit`
matching entities hold a number at the ordering path, the page is made of them alone. Without
a driver SQLite works out the ordering value of every matching entity and sorts them all:
`type=Vehicle&orderBy=speed&limit=10` over 100,000 vehicles took 330-440 ms.

Here the numbers' index (`attrs_num`) is walked in order, testing the query's conditions on
each entity, until the `offset + limit`-th match: its number is the bar. The candidates are
then every entity with a number on the bar's side of it (ties included, whatever their ids),
plus every entity holding several values at that path (`attrs_multi`: its ordering value is
the smallest or largest of them, which the walk of single rows cannot tell). The page is
the usual ordering of those candidates: it holds the page of all matches, since each of them
is either one of several-valued ones or has a number no further than the bar.

When fewer entities than that hold a number the page reaches past the numbers, and strings
come next: the row of each string of a value (not of a sub-attribute or a member such as
`.unitCode`: those orderings run as before) keeps the first three primary weights of its root
collation key
(`collation_prefix.row_prefix`; never larger for a string that orders first), so the same walk
over those prefixes (times, dates and date-times have none: they rank after every other
string) finds the `offset + limit`-th plain string's prefix. The candidates are the strings
up to that prefix (ties of the prefix included), every entity holding a number (numbers rank
first in either direction) and the several-valued ones. When fewer plain strings match, the
query runs as before. Like `plan.choose`, this must run in the read transaction of the query.
"""

from __future__ import annotations

from sqlite3 import Connection

from dalgu.store.base import EntityQuery
from dalgu.store.sqlite.plan import Driver
from dalgu.store.sqlite.query import DOC_MEMBERS, Compiled, where_clause

# past this many entities before the page's end, walking the index in order costs about what
# ordering every match does
MAX_REACH = 10_000


def order_driver(db: Connection, tenant: str, query: EntityQuery) -> Driver | None:
    """Candidates for the page of `query` when its first ordering term is on numbers or on
    strings, or None."""
    if not query.order or query.limit <= 0:
        return None
    term = query.order[0]
    if term.entity_member or term.by_distance:
        return None
    if len(term.members) == 1 and term.members[0] in DOC_MEMBERS:
        return None
    reach = query.offset + query.limit
    if reach > MAX_REACH:
        return None
    c = Compiled()
    where = where_clause(tenant, query, c)
    key = "" if "e.doc" in where else " INDEXED BY entities_key"
    side, way = ("<=", "ASC") if not term.descending else (">=", "DESC")
    at = [tenant, term.attribute, term.path]
    multi = "SELECT ent, 0 AS exact FROM attrs_multi WHERE tenant = ? AND name = ? AND path = ?"
    # a string's row has a prefix unless it is a time, date or date-time, which rank after
    # every other string (`collation_prefix.row_prefix`)
    for kind, plain in (("n", ""), ("s", " AND o.num IS NOT NULL")):
        # the walk: only entities with one value at the path, whose value orders them
        found = db.execute(
            f"SELECT o.num FROM attrs o CROSS JOIN entities e{key} ON e.ent = o.ent "
            f"WHERE o.tenant = ? AND o.name = ? AND o.path = ? AND o.kind = '{kind}'{plain} "
            "AND NOT EXISTS (SELECT 1 FROM attrs_multi m "
            "WHERE m.ent = o.ent AND m.name = o.name AND m.path = o.path) "
            f"AND {where} ORDER BY o.num {way} LIMIT 1 OFFSET ?",
            (*at, *c.params, reach - 1),
        ).fetchone()
        if found is None:
            continue
        # numbers rank before strings in either direction: every entity holding one is
        # a candidate of a page of strings
        numbers = (
            ""
            if kind == "n"
            else "SELECT ent, 0 AS exact FROM attrs WHERE tenant = ? AND name = ? AND path = ? "
            "AND kind = 'n' UNION "
        )
        sql = (
            f"{numbers}SELECT ent, 0 AS exact FROM attrs WHERE tenant = ? AND name = ? "
            f"AND path = ? AND kind = '{kind}' AND num IS NOT NULL AND num {side} ? "
            f"UNION {multi}"
        )
        return Driver(sql, [*(at if numbers else []), *at, found[0], *at])
    return None
