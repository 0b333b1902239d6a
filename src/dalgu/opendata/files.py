"""A download as a file: its bytes written to a temporary file as the exporter makes them
(bounded memory), then served with a size, a validator and byte ranges. Readers of random-
access formats (Parquet's footer first: polars' object store, GDAL's /vsicurl/, DuckDB's
httpfs) ask for the size, then for ranges, in several requests: each file is kept a short
while, so that those requests read the same bytes of a live dataset, and two asking at once
share one file."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, Final

import anyio.to_thread

#: seconds a made file serves the requests for it (a range reader's several requests)
KEPT_SECONDS: Final = 60.0
#: files kept at most at once per worker (the oldest goes first)
KEPT_FILES: Final = 16


@dataclass(frozen=True, slots=True)
class DownloadFile:
    """A made download: its path, size, strong validator (the hash of its bytes: the same
    bytes made again have the same one) and when it was made."""

    path: str
    size: int
    etag: str
    made: datetime

    def open(self) -> BinaryIO:
        """The file to read: open, it stays readable after the file is dropped."""
        return open(self.path, "rb")  # the response closes it


@dataclass(slots=True)
class _Kept:
    made: asyncio.Future[DownloadFile]
    until: float


class DownloadFiles:
    """The files of downloads a worker made lately, by key (tenant, dataset, its version,
    format), in a temporary directory of its own removed with it."""

    def __init__(self, *, kept_seconds: float = KEPT_SECONDS, kept_files: int = KEPT_FILES) -> None:
        self.kept_seconds = kept_seconds
        self.kept_files = kept_files
        self._kept: dict[Hashable, _Kept] = {}
        self._directory: str | None = None

    def _folder(self) -> str:
        if self._directory is None:
            self._directory = tempfile.mkdtemp(prefix="dalgu-downloads-")
            weakref.finalize(self, shutil.rmtree, self._directory, True)
        return self._directory

    async def file(
        self, key: Hashable, make: Callable[[], AsyncIterator[bytes]], *, fresh: bool
    ) -> tuple[DownloadFile, BinaryIO]:
        """The file of `key`, opened for reading: made from `make()`'s bytes when `fresh` or
        none made in the last `kept_seconds` is kept, else the kept one (one being made is
        waited for, fresh or not)."""
        self._sweep()
        kept = self._kept.get(key)
        if kept is not None and fresh and kept.made.done():
            self._drop(key)
            kept = None
        if kept is None:
            task = asyncio.ensure_future(self._write(make()))
            kept = self._kept[key] = _Kept(task, time.monotonic() + self.kept_seconds)
            task.add_done_callback(lambda done: self._failed(key, done))
        made = await asyncio.shield(kept.made)
        return made, made.open()  # no await since the sweep: the file is there

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
            _remove(kept.made.result().path)

    async def _write(self, chunks: AsyncIterator[bytes]) -> DownloadFile:
        descriptor, path = tempfile.mkstemp(dir=self._folder())
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(descriptor, "wb") as out:
                async for chunk in chunks:
                    if chunk:
                        digest.update(chunk)
                        size += len(chunk)
                        await anyio.to_thread.run_sync(out.write, chunk)
        except BaseException:
            _remove(path)
            raise
        made = datetime.now(UTC).replace(microsecond=0)
        return DownloadFile(path, size, f'"{digest.hexdigest()[:32]}"', made)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
