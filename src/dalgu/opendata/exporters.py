"""The download formats: each turns pages of de-identified rows into bytes as they come, so a
dataset is never held whole in memory (CSV, GeoJSON FeatureCollection, Parquet)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

import orjson

from dalgu.opendata.policy import Row

Pages = AsyncIterator[list[Row]]
LOCATION = ("longitude", "latitude")
NO_TYPES: Mapping[str, str] = MappingProxyType({})


class Encoder(Protocol):
    """Pages of rows to bytes, given the columns in order and the types some are declared to
    have whatever their values (`double`, `int64`, `timestamp`: a format that types its
    columns types these so, rows or not)."""

    def __call__(
        self, columns: list[str], pages: Pages, declared: Mapping[str, str] = ..., /
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
    columns: list[str], pages: Pages, declared: Mapping[str, str] = NO_TYPES, /
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
    columns: list[str], pages: Pages, declared: Mapping[str, str] = NO_TYPES, /
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


async def encode_parquet(
    columns: list[str], pages: Pages, declared: Mapping[str, str] = NO_TYPES, /
) -> AsyncIterator[bytes]:
    """Parquet, each column typed by all its values (`dalgu.opendata.parquet`)."""
    from dalgu.opendata import parquet

    async for chunk in parquet.encode_parquet(columns, pages, declared, _text):
        yield chunk


EXPORTERS: dict[str, Exporter] = {
    e.extension: e
    for e in (
        Exporter("CSV", "csv", "text/csv", encode_csv),
        Exporter("GeoJSON", "geojson", "application/geo+json", encode_geojson),
        Exporter("Parquet", "parquet", "application/vnd.apache.parquet", encode_parquet),
    )
}
