"""How orderBy orders strings on SQLite: ICU's root collation (clause 4.23.1's default).

SQLite has no ICU, so the `und` collation registered on each connection compares by the
Unicode Collation Algorithm's default table (pyuca), which ICU's root collation follows save
for small tailorings. Strings equal under it are ordered by code point, so a sort is total.
Other ICU collations (`collation=de-u-co-phonebk`) need ICU: the PostgreSQL store has them.
"""

from __future__ import annotations

from functools import lru_cache

from pyuca import Collator

ROOT = "und"  # the SQLite collation name orderBy uses

_collator: list[Collator] = []


@lru_cache(maxsize=65536)
def sort_key(text: str) -> tuple[int, ...]:
    if not _collator:
        _collator.append(Collator())  # reads the default table once, when first needed
    key: tuple[int, ...] = _collator[0].sort_key(text)
    return key


def compare_root(a: str, b: str) -> int:
    """SQLite collation: -1, 0 or 1 as `a` orders before, with or after `b`.

    Equal strings are equal without their keys: an ordering with few distinct values (a
    status, a brand) compares mostly ties, each a cache look-up of two keys otherwise (perf-7)."""
    if a == b:
        return 0
    ka, kb = sort_key(a), sort_key(b)
    if ka != kb:
        return -1 if ka < kb else 1
    return (a > b) - (a < b)
