"""`q` on an attribute's system times (clause 4.9 example 8's path form, clause 4.8):
`speed.modifiedAt>2026-01-01T00:00:00Z`, `speed.createdAt`.

The index keeps no rows for them (they change on every write: two more rows per attribute
instance), so each store reads them from the candidate's stored document; a query naming
only them walks its candidates (narrow it with `type`, as any query of the whole tenant).
Dalgu writes them in one form, UTC with milliseconds (`2026-12-08T01:12:20.123Z`); a literal
is compared in that form's microsecond extension (`canonical_datetime`).
"""

from __future__ import annotations

from dalgu.query.ast import AttrPath, QList, QRange, QValue

SYSTEM_TIMES = ("createdAt", "modifiedAt")


def system_time(path: AttrPath) -> str | None:
    """`createdAt` or `modifiedAt` when `path` is `attr.createdAt` / `attr.modifiedAt`."""
    if len(path.sub) == 1 and not path.compound and path.sub[0] in SYSTEM_TIMES:
        return path.sub[0]
    return None


def datetimes(value: QValue | QRange | QList) -> bool:
    """Whether every literal of `value` is a DateTime: a system time equals no other kind."""
    if isinstance(value, QRange):
        return value.low.kind == value.high.kind == "datetime"
    if isinstance(value, QList):
        return all(v.kind == "datetime" for v in value.values)
    return value.kind == "datetime"
