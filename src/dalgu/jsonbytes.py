"""JSON bytes at their own length.

orjson (3.12 and later; 3.11 too for most sizes) returns each `dumps` result in the buffer it
wrote into, a few kilobytes whatever the length: 100,000 renderings of ~450 bytes held 396 MiB
instead of 44. What is kept (the render cache) or held for a whole batch (a thousand entities'
documents, renderings, geometries and history rows until their statements run) is copied to
its length here: ~0.1 µs per value, and a batch upsert's peak memory falls by tens of MiB.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """`orjson.dumps(value)`, in a bytes object of exactly its length."""
    return bytes(memoryview(orjson.dumps(value)))


class InexactInteger(orjson.JSONDecodeError):
    """An integer literal beyond 64 bits, which orjson would read as a float (a silent change
    of the value: 2^64 + 1 became 1.8446744073709552e+19)."""


#: every digit to "0", every other byte to "x": a run of 19 digits or more (the only integers
#: that may lie beyond 64 bits) is then found by a plain search, 4x faster than a regex
_DIGITS = bytes(48 if 48 <= byte <= 57 else 120 for byte in range(256))
_LONG_RUN = b"0" * 19
#: the range orjson reads as an integer, exactly
_LOWEST, _HIGHEST = -(2**63), 2**64 - 1


def loads(data: bytes | bytearray | str) -> Any:
    """`orjson.loads(data)`, refusing an integer it would not keep exactly.

    Two C passes (a translation and a search, ~1 µs for a 450-byte entity) clear nearly
    every document; one with a 19-digit run (in a string or not) is read again by the
    standard library, which keeps integers exact, to find out. Raises `InexactInteger` (an
    `orjson.JSONDecodeError`) naming the number and its position.
    """
    value = orjson.loads(data)
    raw = data.encode() if isinstance(data, str) else data
    if raw.translate(_DIGITS).find(_LONG_RUN) < 0:
        return value
    raw = bytes(raw)

    def exact(text: str) -> int:
        number = int(text)
        if not _LOWEST <= number <= _HIGHEST:
            raise _Beyond(text)
        return number

    try:
        json.loads(raw, parse_int=exact)
    except _Beyond as beyond:
        text = beyond.args[0]
        raise InexactInteger(
            f"the integer {text} is beyond 64 bits and would not be kept exactly; "
            "send it as a string (or as a float, if an approximation will do)",
            raw.decode(errors="replace"),
            max(raw.find(text.encode()), 0),
        ) from None
    return value


class _Beyond(Exception):
    """Raised out of the standard library's parser at the first integer beyond 64 bits."""
