"""Reads of single entities by id of one process, those that wait read together.

`GET /entities/{id}` costs the worker one pooled connection and one round trip to PostgreSQL
per request; asyncpg's side of a round trip is most of the request's CPU. At most `RUNNING`
such reads are under way at a time. A read that finds one free goes at once, alone; the
reads that arrive while all are taken wait, and the next free one reads them all (of one
tenant) with one statement, `id = ANY(...)`, each caller answered with its own row. Under
load, many GETs cost one round trip; alone, a GET waits for nothing.

A reader sees what was committed when its statement ran, as before: a read that waits runs
later, so it sees at least what it would have seen at once (a client that reads after its
write was acknowledged reads that write).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Row = tuple[Any, ...]
ReadOne = Callable[[str, str], Awaitable[Row | None]]
ReadMany = Callable[[str, Sequence[str]], Awaitable[dict[str, Row]]]
# point reads under way at a time; the rest wait and are read together by the next
RUNNING = 2


class PointReads:
    """`read(tenant, id)`: through `read_one` when a read is free, else with the others
    waiting through one `read_many` (a row per id found)."""

    def __init__(self, read_one: ReadOne, read_many: ReadMany, running: int = RUNNING) -> None:
        self._read_one = read_one
        self._read_many = read_many
        self._limit = running
        self._running = 0
        # tenant: id: the callers waiting for it (one statement per tenant)
        self._waiting: dict[str, dict[str, list[asyncio.Future[Row | None]]]] = {}
        self._readers: set[asyncio.Future[None]] = set()  # the shared reads' tasks, held

    async def read(self, tenant: str, entity_id: str) -> Row | None:
        if self._running < self._limit and not self._waiting:
            self._running += 1
            try:
                return await self._read_one(tenant, entity_id)
            finally:
                self._running -= 1
                self._start_waiting()
        future: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(tenant, {}).setdefault(entity_id, []).append(future)
        return await future

    @property
    def waiting(self) -> int:
        """Callers waiting for a read."""
        return sum(len(f) for asked in self._waiting.values() for f in asked.values())

    def _start_waiting(self) -> None:
        while self._waiting and self._running < self._limit:
            tenant = next(iter(self._waiting))
            asked = self._waiting.pop(tenant)
            self._running += 1
            reader = asyncio.ensure_future(self._read_together(tenant, asked))
            self._readers.add(reader)
            reader.add_done_callback(self._readers.discard)

    async def _read_together(
        self, tenant: str, asked: dict[str, list[asyncio.Future[Row | None]]]
    ) -> None:
        try:
            ids = [i for i, callers in asked.items() if any(not f.done() for f in callers)]
            rows = await self._read_many(tenant, ids) if ids else {}
        except Exception as error:
            for callers in asked.values():
                for caller in callers:
                    if not caller.done():
                        caller.set_exception(error)
        else:
            for entity_id, callers in asked.items():
                for caller in callers:
                    if not caller.done():
                        caller.set_result(rows.get(entity_id))
        finally:
            for callers in asked.values():  # cancelled while reading: nobody is left waiting
                for caller in callers:
                    if not caller.done():
                        caller.cancel()
            self._running -= 1
            self._start_waiting()
