"""Every HTTP request's body within its bounds, on every port Dalgu serves over HTTP.

A body is refused with 413 once it passes `max_body_bytes` (at once when its Content-Length
says so, else as its chunks arrive) and with 408 when it has not all arrived `body_timeout`
seconds after the application began to read it. The bound is applied to what the server hands
the application (`receive`), so no route can read a body whole into memory before checking its
size (the gateway's ports did: a chunked body of 400 MB took 400 MB of the worker), and a client
that trickles or stalls its body does not hold the request open for ever.

The errors are raised from `receive`, inside the route that reads the body, so each port
answers them in its own form (ProblemDetails, the IoT Agent's errors, FHIR's OperationOutcome).
Once the body is complete, `receive` is passed through untouched: a streamed response waits on
it for the client's disconnection, with no deadline.

The deadline is kept by one watch per event loop, which looks at the bodies being read twice a
second and cancels a read past its time: a timer per request (`asyncio.timeout`) cost a write
several microseconds, the watch's bookkeeping a fraction of one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dalgu.errors import PayloadTooLarge, RequestTimeout

#: methods whose requests carry no body a route reads: passed through
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})

#: seconds between two looks of the watch: a deadline is kept to within this
TICK = 0.5


@dataclass
class _Read:
    """A body being read: by when it must have arrived, whether its task waits on it now."""

    deadline: float
    waiting: bool = False
    expired: bool = False


@dataclass
class BodyWatch:
    """The bodies being read in one event loop, and the task that cancels a read past its
    deadline (running only while there are some)."""

    reads: dict[asyncio.Task[object], _Read] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    def watch(self, task: asyncio.Task[object], deadline: float) -> _Read:
        read = self.reads[task] = _Read(deadline)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run(), name="body-watch")
        return read

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.reads:
            await asyncio.sleep(TICK)
            now = loop.time()
            for task, read in list(self.reads.items()):
                if read.waiting and read.deadline <= now:
                    read.expired = True
                    del self.reads[task]
                    task.cancel()


class BoundedBody:
    """ASGI middleware: request bodies of at most `max_bytes`, sent within `seconds`."""

    def __init__(self, app: ASGIApp, max_bytes: int, seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.seconds = seconds
        self.watch = BodyWatch()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODILESS:
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        try:
            await self.app(scope, self._bounded(scope, receive, task), send)
        finally:
            self.watch.reads.pop(task, None)  # a route that did not read its body to the end

    def _bounded(self, scope: Scope, receive: Receive, task: asyncio.Task[object]) -> Receive:
        max_bytes, seconds, watch = self.max_bytes, self.seconds, self.watch
        declared = _content_length(scope)
        received = 0
        read: _Read | None = None
        complete = False

        async def bounded_receive() -> Message:
            nonlocal received, read, complete
            if complete:
                return await receive()
            if declared is not None and declared > max_bytes:
                raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
            if read is None:
                read = watch.watch(task, asyncio.get_running_loop().time() + seconds)
            read.waiting = True
            try:
                message = await receive()
            except asyncio.CancelledError:
                if not read.expired:
                    raise
                task.uncancel()
                raise RequestTimeout(
                    f"the request's body did not arrive within {seconds:g} seconds"
                ) from None
            read.waiting = False
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
                complete = not message.get("more_body", False)
            else:  # http.disconnect: nothing more will come
                complete = True
            if complete:
                watch.reads.pop(task, None)
            return message

        return bounded_receive


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = bytes(value).strip()
            return int(text) if text.isdigit() else None
    return None
