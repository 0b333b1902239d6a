"""The Parquet download: every column typed by all its values, not by a first page.

The rows are read once: each page is spooled to a temporary file (pickled: exact Python
values, bounded memory) while each column's values are summed up (`ColumnKind`); then the
schema is known and the spooled pages are written, one row group each. A column is
`timestamp[us, tz=UTC]` when every value is a date-time with a zone (`2026-12-07T20:00:00+09:00`
and `…11:00:00.123Z` are one instant each, whatever the device wrote), `int64` when every
value is an integer that fits (2^53 + 1 stays itself), `double` when every value is a number,
`bool` when every value is one, else text (numbers and structured values as their JSON): a
column never loses a value to its type (a column of numbers holding an integer that a double
cannot hold exactly, past 2^53, is text). Declared columns keep their type in any download,
rows or not: the snapped location and numeric aggregates `double`, counts `int64`, the
aggregates' `start` and `end` and the attributes' `observedAt` timestamps (a time without a
zone there is UTC, as the broker reads it).
"""

from __future__ import annotations

import pickle
import re
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from dalgu.opendata.policy import Row

if TYPE_CHECKING:  # pyarrow (tens of MiB) loads with the first Parquet download
    import pyarrow as pa

Pages = AsyncIterator[list[Row]]
INT64 = (-(2**63), 2**63 - 1)
#: a date-time with a zone, as NGSI-LD's DateTime values and observedAt are written
_DATE_TIME = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?(?P<zone>Z|[+-]\d\d:\d\d)?", re.ASCII
)


def instant(value: Any, *, naive_utc: bool = False) -> datetime | None:
    """A date-time text with a zone (`naive_utc`: or without, then UTC) as an aware UTC
    datetime; None for anything else."""
    if not isinstance(value, str):
        return None
    found = _DATE_TIME.fullmatch(value)
    if found is None or (found["zone"] is None and not naive_utc):
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _exact_double(value: int | float) -> bool:
    """Whether a double holds `value` exactly (every float; an integer up to 2^53, and past
    it only some)."""
    if isinstance(value, float) or -(2**53) <= value <= 2**53:
        return True
    try:
        return int(float(value)) == value
    except OverflowError:
        return False


@dataclass(slots=True)
class ColumnKind:
    """What every value of a column seen so far is."""

    present: bool = False
    booleans: bool = True
    integers: bool = True
    numbers: bool = True
    times: bool = True

    def see(self, value: Any) -> None:
        if value is None:
            return
        self.present = True
        is_bool = isinstance(value, bool)
        is_number = isinstance(value, int | float) and not is_bool
        self.booleans = self.booleans and is_bool
        self.numbers = self.numbers and is_number and _exact_double(value)
        self.integers = (
            self.integers and is_number and isinstance(value, int) and INT64[0] <= value <= INT64[1]
        )
        self.times = self.times and instant(value) is not None

    def arrow_type(self) -> pa.DataType:
        import pyarrow as pa

        if not self.present:
            return pa.string()
        if self.booleans:
            return pa.bool_()
        if self.integers:
            return pa.int64()
        if self.numbers:
            return pa.float64()
        if self.times:
            return pa.timestamp("us", tz="UTC")
        return pa.string()


def _declared(kind: str) -> pa.DataType:
    import pyarrow as pa

    return {
        "double": pa.float64(),
        "int64": pa.int64(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }[kind]


def _cell(value: Any, kind: pa.DataType, text: Any) -> Any:
    """A value as a column of `kind` holds it (a declared column's misfit: null)."""
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_timestamp(kind):  # every value of a column typed so has a zone
        return instant(value, naive_utc=True)
    if kind == pa.int64():
        fits = isinstance(value, int) and not isinstance(value, bool)
        return value if fits and INT64[0] <= value <= INT64[1] else None
    if kind == pa.float64():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if number else None
    if kind == pa.bool_():
        return value if isinstance(value, bool) else None
    return text(value)


class _Output:
    """A write-only file for pyarrow whose bytes are taken out as they are written."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def _spooled(spool: BinaryIO) -> list[list[Row]]:
    """The next spooled page (in a list), or none at the end."""
    try:
        return [pickle.load(spool)]  # our own pages, written just before
    except EOFError:
        return []


async def encode_parquet(
    columns: list[str], pages: Pages, declared: Mapping[str, str], text: Any
) -> AsyncIterator[bytes]:
    """Parquet of the pages, one row group per page with rows; `declared` types some columns
    whatever their values (`double`, `int64`, `timestamp`); `text` writes a value as text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds = {c: ColumnKind() for c in columns if c != "id" and c not in declared}
    with tempfile.TemporaryFile() as spool:
        async for page in pages:
            if not page:
                continue
            for row in page:
                for column, kind in kinds.items():
                    kind.see(row.get(column))
            pickle.dump(page, spool, protocol=pickle.HIGHEST_PROTOCOL)
        schema = pa.schema(
            [
                (
                    c,
                    pa.string()
                    if c == "id"
                    else kinds[c].arrow_type()
                    if c in kinds
                    else _declared(declared[c]),
                )
                for c in columns
            ]
        )
        output = _Output()
        writer = pq.ParquetWriter(output, schema)
        try:
            spool.seek(0)
            while found := _spooled(spool):
                page = found[0]
                arrays = {
                    f.name: [_cell(row.get(f.name), f.type, text) for row in page] for f in schema
                }
                writer.write_table(pa.Table.from_pydict(arrays, schema=schema))
                data = output.take()
                if data:
                    yield data
        finally:
            writer.close()
        yield output.take()
