"""The download formats: each turns pages of de-identified rows into bytes as they come, so a
dataset is never held whole in memory (CSV, GeoJSON FeatureCollection, Parquet)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from dalgu.opendata.policy import Row

if TYPE_CHECKING:  # pyarrow (tens of MiB) loads with the first Parquet download
    import pyarrow as pa

Pages = AsyncIterator[list[Row]]
LOCATION = ("longitude", "latitude")


class Encoder(Protocol):
    """Pages of rows to bytes, given the columns in order and those declared to hold numbers
    only (a format that types its columns types these as numbers, rows or not)."""

    def __call__(
        self, columns: list[str], pages: Pages, numbers: frozenset[str] = ..., /
    ) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class Exporter:
    format: str  # as CKAN names a resource's format
    extension: str
    media_type: str
    encode: Encoder


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return orjson.dumps(value).decode()


#: what a spreadsheet reads as the start of a formula (OWASP's CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_cell(value: Any) -> str:
    """A value as a CSV cell; a text a spreadsheet would run as a formula (a device can send
    any text) gets a leading `'`, as OWASP advises; numbers, even negative, stay as they are."""
    text = _text(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


async def encode_csv(
    columns: list[str], pages: Pages, numbers: frozenset[str] = frozenset(), /
) -> AsyncIterator[bytes]:
    """RFC 4180 CSV with a header row; structured values as their JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield buffer.getvalue().encode()
    async for page in pages:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([[csv_cell(row.get(c)) for c in columns] for row in page])
        yield buffer.getvalue().encode()


async def encode_geojson(
    columns: list[str], pages: Pages, numbers: frozenset[str] = frozenset(), /
) -> AsyncIterator[bytes]:
    """A GeoJSON FeatureCollection (RFC 7946): a Point at each row's snapped location (null
    geometry where it has none), the other columns as properties; each Feature's `id` the
    row's entity id (or pseudonym), `<id>#<start>` for a row of aggregates (§3.2: a commonly
    used identifier SHOULD be the Feature's `id`)."""
    properties = [c for c in columns if c not in LOCATION]
    periodic = "start" in columns
    yield b'{"type":"FeatureCollection","features":['
    first = True
    async for page in pages:
        features = []
        for row in page:
            lon, lat = row.get("longitude"), row.get("latitude")
            geometry = (
                None if lon is None or lat is None else {"type": "Point", "coordinates": [lon, lat]}
            )
            feature: dict[str, Any] = {"type": "Feature"}
            feature_id = row.get("id")
            if feature_id is not None:
                feature["id"] = f"{feature_id}#{row.get('start')}" if periodic else feature_id
            feature["geometry"] = geometry
            feature["properties"] = {c: row.get(c) for c in properties}
            features.append(orjson.dumps(feature))
        if features:
            yield (b"" if first else b",") + b",".join(features)
            first = False
    yield b"]}"


class _Spool:
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


def _column_type(values: list[Any]) -> pa.DataType:
    import pyarrow as pa

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.float64()
    return pa.string()


def _cell(value: Any, kind: pa.DataType) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    if kind == pa.float64():
        return (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )
    if kind == pa.bool_():
        return value if isinstance(value, bool) else None
    return _text(value)


def _schema(columns: list[str], numbers: frozenset[str], page: list[Row]) -> pa.Schema:
    import pyarrow as pa

    def kind(column: str) -> pa.DataType:
        if column == "id":
            return pa.string()
        if column in numbers:
            return pa.float64()
        return _column_type([row.get(column) for row in page])

    return pa.schema([(c, kind(c)) for c in columns])


async def encode_parquet(
    columns: list[str], pages: Pages, numbers: frozenset[str] = frozenset(), /
) -> AsyncIterator[bytes]:
    """Parquet, one row group per page; the `numbers` columns are float64, the others' type
    is read from the first page with rows (numbers: float64, booleans, otherwise strings,
    structured values as JSON), so that a download without rows keeps the typed columns; a
    later value that does not fit a numeric or boolean column is null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    spool = _Spool()
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    try:
        async for page in pages:
            if not page:
                continue
            if schema is None:
                schema = _schema(columns, numbers, page)
                writer = pq.ParquetWriter(spool, schema)
            assert writer is not None
            arrays = {f.name: [_cell(row.get(f.name), f.type) for row in page] for f in schema}
            writer.write_table(pa.Table.from_pydict(arrays, schema=schema))
            data = spool.take()
            if data:
                yield data
        if writer is None:
            writer = pq.ParquetWriter(spool, _schema(columns, numbers, []))
        writer.close()
        writer = None
        yield spool.take()
    finally:
        if writer is not None:
            writer.close()


EXPORTERS: dict[str, Exporter] = {
    e.extension: e
    for e in (
        Exporter("CSV", "csv", "text/csv", encode_csv),
        Exporter("GeoJSON", "geojson", "application/geo+json", encode_geojson),
        Exporter("Parquet", "parquet", "application/vnd.apache.parquet", encode_parquet),
    )
}
