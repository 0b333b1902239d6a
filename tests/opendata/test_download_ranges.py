"""Downloads served as files, for readers that read them at random (Parquet's footer first:
polars' object store, GDAL's /vsicurl/): a size, byte ranges (RFC 9110 §14), validators, on
both stores."""

from __future__ import annotations

import io
from typing import Any

import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from tests.opendata.conftest import publish_in_process, station

URL = "/opendata/dataset/daegu-air/download/daegu-air"


@pytest.fixture
def published(portal_client: TestClient) -> TestClient:
    entities = [station("jung-1", 41), station("jung-2", 12.5), station("suseong-1", 77)]
    response = portal_client.post("/ngsi-ld/v1/entityOperations/upsert", json=entities)
    assert response.status_code == 201, response.text
    publish_in_process(portal_client)
    return portal_client


class RangeFile(io.RawIOBase):
    """A remote file read as a random-access reader does: HEAD for its size, then a GET of
    each range it needs."""

    def __init__(self, client: TestClient, url: str) -> None:
        self.client, self.url, self.position = client, url, 0
        head = client.head(url)
        assert head.status_code == 200 and head.content == b""
        self.size = int(head.headers["content-length"])
        self.requests: list[str] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = {0: 0, 1: self.position, 2: self.size}[whence] + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        if self.position >= self.size or not len(buffer):
            return 0
        last = min(self.position + len(buffer), self.size) - 1
        wanted = f"bytes={self.position}-{last}"
        self.requests.append(wanted)
        response = self.client.get(self.url, headers={"Range": wanted})
        assert response.status_code == 206, response.text
        assert response.headers["content-range"] == f"bytes {self.position}-{last}/{self.size}"
        data = response.content
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def test_a_parquet_download_reads_by_ranges_as_a_remote_reader_does(
    published: TestClient,
) -> None:
    remote = RangeFile(published, f"{URL}.parquet")
    table = pq.ParquetFile(remote).read()
    assert remote.requests  # each a 206 of the range asked for (RangeFile.readinto)
    assert sorted(table.column("pm10").to_pylist()) == [12.5, 41.0, 77.0]


@pytest.mark.parametrize("extension", ["csv", "geojson", "parquet"])
def test_a_download_has_a_size_validators_and_accepts_ranges(
    published: TestClient, extension: str
) -> None:
    whole = published.get(f"{URL}.{extension}")
    assert whole.status_code == 200
    assert whole.headers["content-length"] == str(len(whole.content))
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["etag"].startswith('"') and whole.headers["last-modified"]
    head = published.head(f"{URL}.{extension}")
    assert head.headers["content-length"] == str(len(whole.content))
    assert head.headers["etag"] == whole.headers["etag"]


def test_ranges_give_the_bytes_asked_for(published: TestClient) -> None:
    whole = published.get(f"{URL}.parquet").content
    size = len(whole)
    cases = {
        "bytes=0-3": (0, 3),
        "bytes=-8": (size - 8, size - 1),
        f"bytes={size - 2}-": (size - 2, size - 1),
        f"bytes=10-{size + 100}": (10, size - 1),
        "bytes=-100000000": (0, size - 1),
    }
    for header, (first, last) in cases.items():
        response = published.get(f"{URL}.parquet", headers={"Range": header})
        assert response.status_code == 206, header
        assert response.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert response.headers["content-length"] == str(last - first + 1)
        assert response.content == whole[first : last + 1]
    assert whole[:4] == whole[-4:] == b"PAR1"


@pytest.mark.parametrize("header", [f"bytes={10**9}-", "bytes=-0"])
def test_a_range_past_the_end_is_416_with_the_size(published: TestClient, header: str) -> None:
    size = int(published.head(f"{URL}.csv").headers["content-length"])
    response = published.get(f"{URL}.csv", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"


@pytest.mark.parametrize("header", ["items=0-3", "bytes=5-2", "bytes=x", "bytes=0-1,4-5"])
def test_a_range_not_understood_or_several_gives_the_whole_file(
    published: TestClient, header: str
) -> None:
    whole = published.get(f"{URL}.csv").content
    response = published.get(f"{URL}.csv", headers={"Range": header})
    assert response.status_code == 200 and response.content == whole


def test_a_reader_s_ranges_read_one_file_while_the_data_changes(published: TestClient) -> None:
    """The file a HEAD made serves the ranges after it, though an entity changed since."""
    head = published.head(f"{URL}.csv")
    size, etag = int(head.headers["content-length"]), head.headers["etag"]
    changed = station("jung-1", 4444.5)
    response = published.post("/ngsi-ld/v1/entityOperations/upsert", json=[changed])
    assert response.status_code in (201, 204)
    ranged = published.get(f"{URL}.csv", headers={"Range": f"bytes=0-{size - 1}"})
    assert ranged.status_code == 206 and ranged.headers["etag"] == etag
    assert b"4444.5" not in ranged.content
    fresh = published.get(f"{URL}.csv")  # a new download reads the data as it is now
    assert b"4444.5" in fresh.content and fresh.headers["etag"] != etag


def test_if_range_with_another_validator_gives_the_whole_file(published: TestClient) -> None:
    whole = published.get(f"{URL}.csv").content
    response = published.get(f"{URL}.csv", headers={"Range": "bytes=0-3", "If-Range": '"old"'})
    assert response.status_code == 200 and response.content == whole


def test_if_none_match_with_the_etag_is_304(published: TestClient) -> None:
    etag = published.get(f"{URL}.geojson").headers["etag"]
    response = published.get(f"{URL}.geojson", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.content == b""


def test_bom_1_starts_a_csv_with_utf8_s_byte_order_mark_for_excel(published: TestClient) -> None:
    """Excel on a Korean Windows reads a CSV without it as CP949 (data.go.kr offers it)."""
    plain = published.get(f"{URL}.csv").content
    marked = published.get(f"{URL}.csv", params={"bom": "1"})
    assert marked.content == b"\xef\xbb\xbf" + plain
    assert marked.headers["content-length"] == str(len(plain) + 3)
    assert not plain.startswith(b"\xef\xbb\xbf")
    ranged = published.get(f"{URL}.csv", params={"bom": "1"}, headers={"Range": "bytes=0-2"})
    assert ranged.status_code == 206 and ranged.content == b"\xef\xbb\xbf"
    parquet = published.get(f"{URL}.parquet", params={"bom": "1"}).content
    assert parquet.startswith(b"PAR1")  # only a CSV takes it
