"""Download files: made once, shared while kept, and never left on disk."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dalgu.opendata.files import DownloadFiles


async def _bytes(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_a_download_file_has_no_name_on_disk_and_reads_by_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed worker left its kept files in the temporary directory (16 seen after tests)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    files = DownloadFiles()
    made, reader = await files.file("k", lambda: _bytes(b"PAR1", b"body", b"PAR1"), fresh=True)
    assert os.listdir(tmp_path) == []
    assert made.size == 12 and reader.read_at(4, 4) == b"body"
    again, second = await files.file("k", lambda: _bytes(b"other"), fresh=False)
    assert again is made and second.read_at(0, 12) == b"PAR1bodyPAR1"
    fresh, third = await files.file("k", lambda: _bytes(b"other"), fresh=True)
    assert fresh.size == 5 and fresh.etag != made.etag
    assert reader.read_at(8, 4) == b"PAR1"  # a reader of the dropped file still reads it
    for open_reader in (reader, second, third):
        open_reader.close()
