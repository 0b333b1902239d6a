"""How orderBy orders strings on SQLite: ICU's root collation (clause 4.23.1's default).

SQLite has no ICU, so the `und` collation registered on each connection compares by the
Unicode Collation Algorithm's default table (pyuca), which ICU's root collation follows save
for small tailorings. Strings equal under it are ordered by code point, so a sort is total.
Other ICU collations (`collation=de-u-co-phonebk`) need ICU: the PostgreSQL store has them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pyuca import Collator

from dalgu.query.order import TEMPORAL_RANKS

ROOT = "und"  # the SQLite collation name orderBy uses

_collator: list[Collator] = []


@lru_cache(maxsize=65536)
def _sort_key(text: str) -> tuple[int, ...]:
    if not _collator:
        _collator.append(Collator())  # reads the default table once, when first needed
    key: tuple[int, ...] = _collator[0].sort_key(text)
    return key


def compare_root(a: str, b: str) -> int:
    """SQLite collation: -1, 0 or 1 as `a` orders before, with or after `b`."""
    ka, kb = _sort_key(a), _sort_key(b)
    if ka != kb:
        return -1 if ka < kb else 1
    return (a > b) - (a < b)


# --- an index key in the collation's order, for the first pages of an ordering -----------
#
# Each string's index row keeps, in its (otherwise empty) `num`, the first three primary
# weights of its sort key packed into one integer (`primary_prefix`): never larger for a string
# that orders before another, so walking that column in order meets strings in their order,
# up to ties of the prefix (`store/sqlite/ordered.py`). Primary weights are under 2**16, so
# the 48 bits are exact in a REAL.

PREFIX_WEIGHTS = 3
_TEMPORAL = re.compile("|".join(f"(?:{pattern})" for pattern, _ in TEMPORAL_RANKS))


def string_prefix(text: str) -> int | None:
    """What a string's index row keeps: its `primary_prefix`, or None for a time, date or
    date-time (they rank after every other string, so no walk of plain strings meets them)."""
    return None if _TEMPORAL.match(text) else primary_prefix(text)


_ASCII: list[tuple[int, ...]] = []  # the primary weights of each ASCII character alone


def _primaries(key: tuple[int, ...]) -> tuple[int, ...]:
    end = key.index(0) if 0 in key else len(key)  # 0 separates the levels
    return key[:end]


_SINGLE: list[int] = []  # the one primary weight of each ASCII character, 0 if not one


def _ascii_primaries() -> list[tuple[int, ...]]:
    if not _ASCII:
        _ASCII.extend(_primaries(_sort_key(chr(cp))) for cp in range(128))
        _SINGLE.extend(w[0] if len(w) == 1 else 0 for w in _ASCII)
    return _ASCII


def _packed(weights: tuple[int, ...] | list[int]) -> int:
    value = 0
    for n in range(PREFIX_WEIGHTS):
        value = (value << 16) | (weights[n] if n < len(weights) else 0)
    return value


@lru_cache(maxsize=65536)
def primary_prefix(text: str) -> int:
    """The first three primary weights of `text`'s sort key, packed: `a` ordering before `b`
    implies `primary_prefix(a) <= primary_prefix(b)`.

    ASCII is read a character at a time (DUCET has no contraction or expansion within
    ASCII: `tests/store/test_sqlite_collation_prefix.py` checks it); anything else, or an
    ASCII character followed by one that could join it (`L·`), takes the whole sort key."""
    if not _SINGLE:
        _ascii_primaries()
    head = text[: PREFIX_WEIGHTS + 1]
    if head.isascii():  # the usual case: one weight per character, none ignorable
        first = [_SINGLE[cp] for cp in head[:PREFIX_WEIGHTS].encode()]
        if 0 not in first:
            return _packed(first)
    weights: list[int] = []
    for char in text:
        alone = _ALONE.get(char, _UNREAD)
        if alone is _UNREAD:
            alone = _ALONE[char] = _read_alone(char)
        if alone is None:  # it may join its neighbours: the whole key
            return _packed(_primaries(_sort_key(text)))
        if len(weights) >= PREFIX_WEIGHTS:
            break  # a character that joins nothing comes after the last one read
        weights.extend(alone)
    return _packed(weights)


_UNREAD: tuple[int, ...] = (-1,)
# each character's primary weights read alone, or None where a neighbour may change them
_ALONE: dict[str, tuple[int, ...] | None] = {}
_STARTS: set[int] = set()  # the code points that begin a contraction (a key of several)


def _read_alone(char: str) -> tuple[int, ...] | None:
    """`char`'s primary weights, when they are the same wherever it stands: it decomposes
    into code points that begin no contraction, the first of them a starter (nothing is
    reordered across it). Hangul syllables, Latin letters with accents, most of Unicode."""
    if not _STARTS:
        _sort_key("")  # loads the table
        children = _collator[0].table.root.children or {}
        _STARTS.update(cp for cp, node in children.items() if node.children)
    decomposed = unicodedata.normalize("NFD", char)
    if unicodedata.combining(decomposed[0]) or any(ord(c) in _STARTS for c in decomposed):
        return None
    return _primaries(_sort_key(char))
