"""Southbound messages that come one per request (HTTP, CoAP), stored together when they
arrive together.

Over MQTT the gateway takes what the broker delivered at once and stores it with one write
(`DeviceService.receive_batch`); over HTTP and CoAP each request carries one message, and each
was a write of its own, with its own entity update, history rows and commit. At most
`RUNNING` writes of such messages are under way at a time (per transport). A message that
finds one free is written at once, alone, as before; the messages that arrive while all are
taken wait, and the next free write stores them all with one `receive_many`, each request
answered with its own outcome: stored, its own refusal (a bad payload, an unknown device), or
the error of the write when it failed as a whole (the store unavailable: every request of it
gets the 503, and its device sends again). Alone, a message waits for nothing.

A request is answered once its message is written, as before: what it acknowledged survives a
crash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from dalgu.errors import DalguError

M = TypeVar("M")
ReceiveOne = Callable[[M], Awaitable[object]]
ReceiveMany = Callable[[Sequence[M]], Awaitable[list[DalguError | None]]]
# writes of arriving messages under way at a time; the rest wait and are written together
RUNNING = 2


class Arrivals(Generic[M]):
    """`receive(message)`: through `receive_one` when a write is free, else with the others
    waiting through one `receive_many` (an outcome per message: None when stored, else the
    refusal, which `receive` raises)."""

    def __init__(
        self, receive_one: ReceiveOne[M], receive_many: ReceiveMany[M], running: int = RUNNING
    ) -> None:
        self._receive_one = receive_one
        self._receive_many = receive_many
        self._limit = running
        self._running = 0
        self._waiting: list[tuple[M, asyncio.Future[DalguError | None]]] = []
        self._writers: set[asyncio.Future[None]] = set()  # the shared writes' tasks, held

    async def receive(self, message: M) -> None:
        if self._running < self._limit and not self._waiting:
            self._running += 1
            try:
                await self._receive_one(message)
            finally:
                self._running -= 1
                self._start_waiting()
            return
        future: asyncio.Future[DalguError | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((message, future))
        refusal = await future
        if refusal is not None:
            raise refusal

    @property
    def waiting(self) -> int:
        """Messages waiting for a write."""
        return len(self._waiting)

    def _start_waiting(self) -> None:
        while self._waiting and self._running < self._limit:
            group, self._waiting = self._waiting, []
            self._running += 1
            writer = asyncio.ensure_future(self._write_together(group))
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)

    async def _write_together(
        self, group: list[tuple[M, asyncio.Future[DalguError | None]]]
    ) -> None:
        try:
            # a request whose client left before its write began is not written
            live = [(message, future) for message, future in group if not future.done()]
            outcomes = await self._receive_many([m for m, _ in live]) if live else []
        except Exception as error:
            for _, future in group:
                if not future.done():
                    future.set_exception(error)
        else:
            for (_, future), outcome in zip(live, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
        finally:
            for _, future in group:  # cancelled while writing: nobody is left waiting
                if not future.done():
                    future.cancel()
            self._running -= 1
            self._start_waiting()
