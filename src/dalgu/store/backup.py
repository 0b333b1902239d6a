"""A consistent copy of a store while Dalgu runs (`dalgu backup`): what each backend's copy
(`sqlite/backup.py`, `postgres/backup.py`) reports, and how it fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: told (pages copied, pages in all) after each step of a copy
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BackupCopy:
    """A finished copy: where, its size in bytes, the entities it holds (None when the
    backend's format does not say without restoring it), and how it was checked."""

    path: Path
    size: int
    entities: int | None
    checked: str
