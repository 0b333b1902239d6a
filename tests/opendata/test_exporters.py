"""The exporters write as they read: one piece per page, and cells that are safe to open."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from dalgu.opendata.exporters import csv_cell, encode_csv, encode_geojson
from dalgu.opendata.policy import Row


async def _pages(count: int) -> AsyncIterator[list[Row]]:
    for n in range(count):
        yield [{"id": f"e{n}", "v": n, "longitude": 128.6, "latitude": 35.87}]


async def test_csv_and_geojson_give_a_piece_per_page_as_pages_come() -> None:
    pieces = [p async for p in encode_csv(["id", "v"], _pages(3))]
    assert len(pieces) == 4  # the header, then one per page
    features = [p async for p in encode_geojson(["id", "v", "longitude", "latitude"], _pages(3))]
    assert len(features) == 5  # the opening, one per page, the closing


def test_a_text_that_a_spreadsheet_would_run_is_quoted_and_numbers_are_not() -> None:
    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("-5") == "-5" and csv_cell(-5) == "-5" and csv_cell("-x") == "'-x"
    assert csv_cell("free") == "free" and csv_cell(None) == ""


async def test_a_quoted_formula_reads_back_as_text() -> None:
    async def one() -> AsyncIterator[list[Row]]:
        yield [{"id": "e1", "v": "=1+1"}]

    body = b"".join([p async for p in encode_csv(["id", "v"], one())]).decode()
    assert list(csv.reader(io.StringIO(body)))[1] == ["e1", "'=1+1"]


async def _parquet(columns: list[str], *pages: list[Row], **declared: str) -> Any:
    import pyarrow.parquet as pq

    from dalgu.opendata.exporters import encode_parquet

    async def given() -> AsyncIterator[list[Row]]:
        for page in pages:
            yield page

    body = b"".join([p async for p in encode_parquet(columns, given(), declared)])
    return pq.read_table(io.BytesIO(body))


async def test_parquet_types_each_column_by_all_its_values_losing_none() -> None:
    """A value of page 2 that does not fit page 1's type was null; now the column fits all."""
    big = 2**53 + 1  # a float64 turns it into 2**53
    keys = ("id", "count", "level", "flag", "when")
    table = await _parquet(
        [*keys, "empty"],
        [dict(zip(keys, ("e1", big, 3, True, "2026-12-07T20:00:00+09:00"), strict=True))],
        [],
        [dict(zip(keys, ("e2", -4, "high", False, "2026-12-07T11:00:00.5Z"), strict=True))],
        [dict(zip(keys, ("e3", None, 2.5, None, "2026-12-07T02:00:00-09:00"), strict=True))],
    )
    types = {f.name: str(f.type) for f in table.schema}
    assert types == {
        "id": "string",
        "count": "int64",
        "level": "string",
        "flag": "bool",
        "when": "timestamp[us, tz=UTC]",
        "empty": "string",
    }
    rows = table.to_pylist()
    assert [r["count"] for r in rows] == [big, -4, None]
    assert [r["level"] for r in rows] == ["3", "high", "2.5"]
    eleven = datetime(2026, 12, 7, 11, tzinfo=UTC)
    assert [r["when"] for r in rows] == [eleven, eleven + timedelta(seconds=0.5), eleven]
    assert table.to_batches() and len(rows) == 3


async def test_parquet_keeps_declared_types_without_rows_and_one_row_group_a_page() -> None:
    import pyarrow.parquet as pq

    from dalgu.opendata.exporters import encode_parquet

    columns = ["id", "v", "start", "n", "longitude"]
    declared = {"start": "timestamp", "n": "int64", "longitude": "double"}
    table = await _parquet(columns, [], **declared)
    types = {f.name: str(f.type) for f in table.schema}
    assert types == {
        "id": "string",
        "v": "string",
        "start": "timestamp[us, tz=UTC]",
        "n": "int64",
        "longitude": "double",
    }

    async def two() -> AsyncIterator[list[Row]]:
        yield [{"id": "a", "v": 1, "start": "2026-12-07T11:00:00Z", "n": 1, "longitude": 128}]
        yield [{"id": "b", "v": 2, "start": "2026-12-07T12:00:00Z", "n": 2, "longitude": 129}]

    body = b"".join([p async for p in encode_parquet(columns, two(), declared)])
    assert pq.ParquetFile(io.BytesIO(body)).num_row_groups == 2


async def test_parquet_loses_no_integer_a_double_cannot_hold() -> None:
    """docs/opendata.md: Parquet columns are typed "so no value is lost to its column's
    type": 2^64 - 1 (a device's uint64 counter) made the column double, which changed it and
    2^63 - 1 beside it; 0.5 beside 2^53 + 1 changed the latter."""
    counters = [1, 2**63 - 1, 2**64 - 1]
    mixed = [0.5, 2**53 + 1, 2**53 + 2]  # 2^53 + 2 a double holds exactly
    table = await _parquet(
        ["id", "counter", "mixed", "halves"],
        [
            {"id": f"e{i}", "counter": c, "mixed": m, "halves": h}
            for i, (c, m, h) in enumerate(zip(counters, mixed, [0.5, 2**53, 2], strict=True))
        ],
    )
    types = {f.name: str(f.type) for f in table.schema}
    assert types["counter"] == types["mixed"] == "string"
    assert types["halves"] == "double"  # every one a double holds
    rows = table.to_pylist()
    assert [int(r["counter"]) for r in rows] == counters
    assert [r["mixed"] for r in rows] == ["0.5", str(2**53 + 1), str(2**53 + 2)]


async def test_parquet_keeps_an_observed_at_written_without_a_zone_as_utc() -> None:
    """An `observedAt` without a zone (the broker keeps it, and reads it as UTC, as every
    NGSI-LD time is) was null in the declared timestamp column: the time was lost."""
    rows = [
        {"id": "n1", "v_observedAt": "2026-12-07T09:00:00"},
        {"id": "n2", "v_observedAt": "2026-12-07T09:00:00+09:00"},
        {"id": "n3", "v_observedAt": "2026-12-07T00:00:00.250Z"},
    ]
    table = await _parquet(["id", "v_observedAt"], rows, v_observedAt="timestamp")
    at = [r["v_observedAt"] for r in table.to_pylist()]
    midnight = datetime(2026, 12, 7, tzinfo=UTC)
    assert at == [midnight + timedelta(hours=9), midnight, midnight + timedelta(seconds=0.25)]


async def test_a_column_of_times_some_without_a_zone_is_text() -> None:
    """A value column's zone-less time names no instant: the column stays text, as written."""
    rows = [{"id": "a", "when": "2026-12-07T09:00:00"}, {"id": "b", "when": "2026-12-07T09:00Z"}]
    table = await _parquet(["id", "when"], rows)
    assert [r["when"] for r in table.to_pylist()] == ["2026-12-07T09:00:00", "2026-12-07T09:00Z"]
