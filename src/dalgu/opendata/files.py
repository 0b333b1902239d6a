"""A download as a file: its bytes written to a temporary file as the exporter makes them
(bounded memory), then served with a size, a validator and byte ranges. Readers of random-
access formats (Parquet's footer first: polars' object store, GDAL's /vsicurl/, DuckDB's
httpfs) ask for the size, then for ranges, in several requests: each file is kept a short
while, so that those requests read the same bytes of a live dataset, and two asking at once
share one file.

The files have no name on disk (`tempfile.TemporaryFile`): each lives while a descriptor of
it is open, the kept one's or a reader's, so a worker that is killed leaves none behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import anyio.to_thread

#: seconds a made file serves the requests for it (a range reader's several requests)
KEPT_SECONDS: Final = 60.0
#: files kept at most at once per worker (the oldest goes first)
KEPT_FILES: Final = 16


class FileReader:
    """One reader of a made file, by offset (its own descriptor: readers do not share a
    position, and the file lives while one reads it)."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = os.dup(descriptor)

    def read_at(self, offset: int, size: int) -> bytes:
        return os.pread(self._descriptor, size, offset)

    def close(self) -> None:
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1

    def __del__(self) -> None:  # a response that never started to send
        self.close()


@dataclass(frozen=True, slots=True)
class DownloadFile:
    """A made download: its size, strong validator (the hash of its bytes: the same bytes
    made again have the same one), when it was made, and a descriptor of its file."""

    descriptor: int
    size: int
    etag: str
    made: datetime

    def open(self) -> FileReader:
        """A reader of the file, which stays readable after the file is dropped."""
        return FileReader(self.descriptor)


@dataclass(slots=True)
class _Kept:
    made: asyncio.Future[DownloadFile]
    until: float


class DownloadFiles:
    """The files of downloads a worker made lately, by key (tenant, dataset, its version,
    format)."""

    def __init__(self, *, kept_seconds: float = KEPT_SECONDS, kept_files: int = KEPT_FILES) -> None:
        self.kept_seconds = kept_seconds
        self.kept_files = kept_files
        self._kept: dict[Hashable, _Kept] = {}

    async def file(
        self, key: Hashable, make: Callable[[], AsyncIterator[bytes]], *, fresh: bool
    ) -> tuple[DownloadFile, FileReader]:
        """The file of `key`, opened for reading: made from `make()`'s bytes when `fresh` or
        none made in the last `kept_seconds` is kept, else the kept one (one being made is
        waited for, fresh or not)."""
        self._sweep()
        kept = self._kept.get(key)
        if kept is not None and fresh and kept.made.done():
            self._drop(key)
            kept = None
        if kept is None:
            task = asyncio.ensure_future(_write(make()))
            kept = self._kept[key] = _Kept(task, time.monotonic() + self.kept_seconds)
            task.add_done_callback(lambda done: self._failed(key, done))
        made = await asyncio.shield(kept.made)
        return made, made.open()  # no await since the sweep: the descriptor is open

    def _failed(self, key: Hashable, done: asyncio.Future[DownloadFile]) -> None:
        """A download that failed is not kept: the next request makes it again."""
        if done.cancelled() or done.exception() is not None:
            kept = self._kept.get(key)
            if kept is not None and kept.made is done:
                del self._kept[key]

    def _sweep(self) -> None:
        """Drop the files past their time, then the oldest while there are too many (a file
        being made stays: requests wait for it)."""
        now = time.monotonic()
        for key, kept in list(self._kept.items()):
            if kept.until <= now and kept.made.done():
                self._drop(key)
        for key, kept in list(self._kept.items()):  # oldest first
            if len(self._kept) < self.kept_files:
                break
            if kept.made.done():
                self._drop(key)

    def _drop(self, key: Hashable) -> None:
        kept = self._kept.pop(key)
        if not kept.made.cancelled() and kept.made.exception() is None:
            os.close(kept.made.result().descriptor)  # readers keep their own


async def _write(chunks: AsyncIterator[bytes]) -> DownloadFile:
    digest = hashlib.sha256()
    size = 0
    with tempfile.TemporaryFile() as out:
        async for chunk in chunks:
            if chunk:
                digest.update(chunk)
                size += len(chunk)
                await anyio.to_thread.run_sync(out.write, chunk)
        await anyio.to_thread.run_sync(out.flush)
        descriptor = os.dup(out.fileno())
    made = datetime.now(UTC).replace(microsecond=0)
    return DownloadFile(descriptor, size, f'"{digest.hexdigest()[:32]}"', made)
