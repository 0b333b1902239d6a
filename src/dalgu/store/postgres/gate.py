"""Writes of one process that touch the same entities queue here, before their transaction.

Two `mutate` batches with an entity in common are serialized by PostgreSQL anyway (the second
one's `SELECT … FOR UPDATE` waits for the first to commit). Waiting inside PostgreSQL costs it
work the rest of the server pays for: the waiting statement's snapshot keeps the rows the first
batch replaces from being pruned, so both batches' updates (of the entities, of the hourly
rollups) find longer chains of row versions and more of them leave their page (a new entry in
every index of the table); and the waiter fetches each row again once it is free. Queued here
first, the second batch starts its transaction after the first committed.

This is an optimization, not the guarantee: the row locks still decide (other processes,
other writers). Batches wait only for earlier batches they overlap, in arrival order, so none
waits for a later one (no cycle) and none is overtaken forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager


class WriteGate:
    """Batches whose (tenant, entity ids) overlap run one after another, in arrival order."""

    def __init__(self) -> None:
        self._queued: list[tuple[str, frozenset[str], asyncio.Event]] = []

    @asynccontextmanager
    async def hold(self, tenant: str, entity_ids: Iterable[str]) -> AsyncIterator[None]:
        ids = frozenset(entity_ids)
        ahead = [
            done
            for other_tenant, other_ids, done in self._queued
            if other_tenant == tenant and not ids.isdisjoint(other_ids)
        ]
        entry = (tenant, ids, asyncio.Event())
        self._queued.append(entry)
        try:
            for done in ahead:
                await done.wait()
            yield
        finally:
            self._queued.remove(entry)
            entry[2].set()

    @property
    def queued(self) -> int:
        """Batches running or waiting."""
        return len(self._queued)
