"""Columns of short strings sent as one text each, split by PostgreSQL (`string_to_array`).

asyncpg encodes an array parameter element by element: 0.3–0.6 µs of the client's CPU per
element (its codecs check every element against `collections.abc` classes), and a batch of
500 readings sends a dozen such arrays. Joined into one string, a column costs the client a
`str.join` and a count, and PostgreSQL splits it in C.

Every text round-trips: the separator is a control character no value of the statement's
columns holds (checked by counting it in the joined texts), or a random longer one if they
hold all of them; `None` travels as a marker chosen the same way. Each column starts with the
separator, so an empty string is an element too; `unpack` drops the empty first element.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

_SEPARATORS = ("\x1f", "\x1e", "\x1d", "\x1c")
_NULLS = ("\x1a", "\x19")


def pack(*columns: Sequence[str | None]) -> list[str]:
    """[separator, null marker, one text per column]: the parameters `unpack` reads."""
    candidates = [(sep, null) for null in _NULLS for sep in _SEPARATORS]
    while True:
        for separator, null in candidates:
            texts = _joined(columns, separator, null)
            if texts is not None:
                return [separator, null, *texts]
        # values holding every candidate: random ones, which no value holds in practice
        candidates = [("\x1f" + secrets.token_hex(8), "\x1a" + secrets.token_hex(8))]


def unpack(param: int, first: int) -> str:
    """SQL for the text[] that parameter `param` holds, `first` being the number of the
    separator's parameter (the null marker's is the next)."""
    return f"(string_to_array(${param}, ${first}, ${first + 1}))[2:]"


def _joined(columns: Sequence[Sequence[str | None]], separator: str, null: str) -> list[str] | None:
    """Each column as one text, or None if a value holds the separator or the marker."""
    texts = []
    for column in columns:
        if not column:
            texts.append("")  # string_to_array('') is the empty array
            continue
        nulls = column.count(None)
        values: Sequence[str | None] = column
        if nulls:
            values = [null if value is None else value for value in column]
        text = separator + separator.join(values)  # type: ignore[arg-type]
        if text.count(separator) != len(column) or text.count(null) != nulls:
            return None
        texts.append(text)
    return texts
