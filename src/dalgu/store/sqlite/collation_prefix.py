"""An index key in the root collation's order, for the first pages of an ordering by strings.

Each string of a value keeps, in its index row's (otherwise empty) `num`, the first three
primary weights of its root-collation sort key packed into one integer (`primary_prefix`):
never larger for a string that orders before another, so walking that column in order meets
strings in their order, up to ties of the prefix (`store/sqlite/ordered.py`). Primary weights
are under 2**16, so the 48 bits are exact in a REAL.

Loading pyuca's whole table costs ~0.6 s and ~48 MB in every process that writes; the
weights of the Basic Multilingual Plane's code points read alone are kept instead in
`collation_prefix.bin` (~35 kB, made from pyuca's table by `table_bytes`; a test checks they
agree). A string is read code point by code point after canonical decomposition (so Hangul
syllables and accented letters are their parts); one that holds a code point that begins a
contraction (`L·`), a combining mark with a primary weight, or one outside the plane takes
pyuca's whole sort key.
"""

from __future__ import annotations

import array
import re
import unicodedata
import zlib
from functools import lru_cache
from importlib import resources
from typing import Any

import orjson
from pyuca import Collator

from dalgu.query.order import TEMPORAL_RANKS
from dalgu.store.sqlite.collation import sort_key

PREFIX_WEIGHTS = 3
NO_ENTRY, SEVERAL = 0xFFFE, 0xFFFF  # in the table: an implicit weight; see the exceptions
_TEMPORAL = re.compile("|".join(f"(?:{pattern})" for pattern, _ in TEMPORAL_RANKS))
_TABLE = "collation_prefix.bin"


def string_prefix(text: str) -> int | None:
    """What a value's string keeps in its index row: its `primary_prefix`, or None for a time,
    date or date-time (they rank after every other string: no walk of plain strings meets
    them)."""
    return None if _TEMPORAL.match(text) else primary_prefix(text)


def row_prefix(path: str, text: str) -> int | None:
    """What a string's index row at `path` keeps: a value's string (`''`, or a member of a
    compound value, `[city]`) its `string_prefix`; a sub-attribute's or a member's such as
    `.unitCode` or `.observedAt` none (orderings on them are not walked)."""
    return None if path.startswith(".") else string_prefix(text)


class _Weights:
    """The table: each BMP code point's primary weights alone, and the contraction starts."""

    def __init__(self, blob: bytes) -> None:
        data = zlib.decompress(blob)
        self.first = array.array("H")
        self.first.frombytes(data[: 2 * 65536])
        rest = orjson.loads(data[2 * 65536 :])
        self.several: dict[int, tuple[int, ...]] = {
            int(cp): tuple(w) for cp, w in rest["several"].items()
        }
        # a code point that begins a contraction, and the ones that may come second in it
        self.starts: dict[int, frozenset[int]] = {
            int(cp): frozenset(after) for cp, after in rest["starts"].items()
        }
        # an ASCII character's one weight, or 0 where the loop must read it (none, or a start)
        self.ascii = [
            w if 0 < w < NO_ENTRY and cp not in self.starts else 0
            for cp, w in enumerate(self.first[:128])
        ]
        self.implicit = Collator.__new__(Collator)  # its implicit weights need no table
        self.implicit.implicit_weights = rest["implicit"]

    def primaries(self, cp: int) -> tuple[int, ...]:
        """The primary weights of a code point of the plane alone (none: it is ignorable)."""
        w = self.first[cp]
        if w == NO_ENTRY:
            return tuple(e[0] for e in self.implicit.implicit_weight(cp) if e[0])
        if w == SEVERAL:
            return self.several[cp]
        return (w,) if w else ()


_loaded: list[_Weights] = []


def _weights() -> _Weights:
    if not _loaded:
        _loaded.append(_Weights(resources.files(__package__).joinpath(_TABLE).read_bytes()))
    return _loaded[0]


def _packed(weights: list[int] | tuple[int, ...]) -> int:
    value = 0
    for n in range(PREFIX_WEIGHTS):
        value = (value << 16) | (weights[n] if n < len(weights) else 0)
    return value


@lru_cache(maxsize=4096)  # the repeated values (brands, kinds, units); unique ones pass by
def primary_prefix(text: str) -> int:
    """The first three primary weights of `text`'s root-collation sort key, packed: `a`
    ordering before `b` implies `primary_prefix(a) <= primary_prefix(b)`."""
    table = _weights()
    head = text[: PREFIX_WEIGHTS + 1]
    if head.isascii():  # the usual case: one weight per character, none that may join
        first = [table.ascii[cp] for cp in head[:PREFIX_WEIGHTS].encode()]
        if 0 not in first:
            return _packed(first)
    weights: list[int] = []
    points = unicodedata.normalize("NFD", text)
    for n, point in enumerate(points):
        if len(weights) >= PREFIX_WEIGHTS:
            break
        cp = ord(point)
        if cp > 0xFFFF:
            return _whole(text)
        joins = table.starts.get(cp)
        if joins is not None and n + 1 < len(points):
            after = points[n + 1]
            if ord(after) in joins or unicodedata.combining(after):
                return _whole(text)  # a contraction, or maybe one across marks
        found = table.primaries(cp)
        if not found:
            continue
        if unicodedata.combining(point):  # a mark with a weight: its place may move
            return _whole(text)
        weights.extend(found)
    return _packed(weights)


def range_prefix(low: str, high: str) -> int | None:
    """The `primary_prefix` of every string from `low` to `high` in code point order, when the
    beginning they share fixes it (every string between them begins with it); else None."""
    same = 0
    for a, b in zip(low, high, strict=False):
        if a != b:
            break
        same += 1
    return shared_prefix(low[:same])


def shared_prefix(head: str) -> int | None:
    """The `primary_prefix` of every string that begins with `head`, when `head` fixes it; else
    None.

    It does when `head`'s own code points, after canonical decomposition, give the three
    weights and none of them is past the plane, begins a contraction or is a combining mark.
    Then the weights are read from `head` alone, whatever follows it: nothing after it can
    join one of its characters or move before it."""
    table = _weights()
    weights: list[int] = []
    for point in unicodedata.normalize("NFD", head):
        cp = ord(point)
        if cp > 0xFFFF or cp in table.starts or unicodedata.combining(point):
            return None
        weights.extend(table.primaries(cp))
        if len(weights) >= PREFIX_WEIGHTS:
            return _packed(weights)
    return None


def _whole(text: str) -> int:
    key = sort_key(text)  # loads pyuca's table the first time: only strings that need it
    end = key.index(0) if 0 in key else len(key)  # 0 separates the levels
    return _packed(key[:end])


def table_bytes() -> bytes:
    """`collation_prefix.bin` made from pyuca's table (loads it: slow)."""
    collator = Collator()
    children: dict[int, Any] = collator.table.root.children or {}
    first = array.array("H", [NO_ENTRY] * 65536)
    several: dict[str, list[int]] = {}
    for cp in range(65536):
        node = children.get(cp)
        if node is None or not node.value:
            continue
        primaries = [e[0] for e in node.value if e[0]]
        if len(primaries) == 1 and primaries[0] < NO_ENTRY:
            first[cp] = primaries[0]
        elif not primaries:
            first[cp] = 0
        else:
            first[cp] = SEVERAL
            several[str(cp)] = primaries
    starts = {
        str(cp): sorted(node.children)
        for cp, node in sorted(children.items())
        if node.children and cp <= 0xFFFF
    }
    rest = orjson.dumps(
        {"several": several, "starts": starts, "implicit": collator.implicit_weights}
    )
    return zlib.compress(first.tobytes() + rest, 9)
