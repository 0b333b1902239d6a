"""The writes waiting for the SQLite store's next group commit, and how they are grouped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dalgu.store.base import Mutation


@dataclass(slots=True)
class Queued:
    """A write waiting for the next group commit: `run` does it inside the transaction.

    `entities` is set for an entity `mutate` call, (tenant, items, history): consecutive ones
    of one tenant are applied together (`_MergedWrites`)."""

    run: Callable[[], object]
    future: asyncio.Future[Any]
    entities: tuple[str, Sequence[tuple[str, Mutation]], bool] | None = None


def runs(queued: list[Queued]) -> list[list[Queued]]:
    """The queued calls in order, consecutive entity writes of one tenant (and history flag)
    grouped; any other call alone."""
    grouped: list[list[Queued]] = []
    for call in queued:
        last = grouped[-1][-1] if grouped else None
        if (
            last is not None
            and call.entities is not None
            and last.entities is not None
            and call.entities[0] == last.entities[0]
            and call.entities[2] == last.entities[2]
        ):
            grouped[-1].append(call)
        else:
            grouped.append([call])
    return grouped
