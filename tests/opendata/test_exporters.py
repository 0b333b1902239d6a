"""The exporters write as they read: one piece per page, and cells that are safe to open."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from dalgu.opendata.exporters import LOCATION, csv_cell, encode_csv, encode_geojson
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


async def test_parquet_types_columns_by_the_first_page_with_rows() -> None:
    import pyarrow.parquet as pq

    from dalgu.opendata.exporters import encode_parquet

    async def late() -> AsyncIterator[list[Row]]:
        yield []
        yield [{"id": "e1", "v": 3, "longitude": None, "latitude": None}]

    columns = ["id", "v", "longitude", "latitude"]
    body = b"".join([p async for p in encode_parquet(columns, late(), frozenset(LOCATION))])
    types = {f.name: str(f.type) for f in pq.read_table(io.BytesIO(body)).schema}
    assert types == {"id": "string", "v": "double", "longitude": "double", "latitude": "double"}
