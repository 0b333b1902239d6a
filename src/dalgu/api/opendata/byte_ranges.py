"""The `Range` header of a download (RFC 9110 §14): one byte range of a file of known size.
A pure parser: text in, a range, None (serve the whole file) or `Unsatisfiable` out."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"\s*(\d*)\s*-\s*(\d*)\s*")


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes `first` to `last`, both included (as `Content-Range` writes them)."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1


class Unsatisfiable(Exception):
    """No range of the header overlaps the file (416, `Content-Range: bytes */size`)."""


def byte_range(header: str | None, size: int) -> ByteRange | None:
    """The range to serve of a file of `size` bytes; None for the whole file: no header,
    another unit or a header that does not parse (a server ignores those, §14.2), or several
    ranges (served whole, which §14.2 allows, rather than as multipart/byteranges)."""
    if header is None:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes" or not specs:
        return None
    parts = specs.split(",")
    matches = [_SPEC.fullmatch(part) for part in parts]
    if any(m is None or m.group(1) == m.group(2) == "" for m in matches):
        return None  # not a ranges-specifier: ignored
    if len(parts) > 1:
        return None
    match = matches[0]
    assert match is not None
    first_text, last_text = match.group(1), match.group(2)
    if first_text == "":  # a suffix: the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(size - suffix, 0), size - 1)
    first = int(first_text)
    if last_text != "" and int(last_text) < first:
        return None  # invalid (last before first): ignored
    if first >= size:
        raise Unsatisfiable
    last = size - 1 if last_text == "" else min(int(last_text), size - 1)
    return ByteRange(first, last)
