"""A store outage (PostgreSQL down or restarting, the SQLite file locked or unreadable) is
answered 503 with `Retry-After`, as a ProblemDetails, never a 500.

The store says which of its exceptions report an outage (`EntityStore.outage`, asked through
the entity service); no transport knows asyncpg or sqlite3. `OutageAnswer` wraps the routes inside
Starlette's error middleware, which would log the exception's traceback as a bug and answer
500; the FHIR endpoints ask `store_outage` themselves (they answer OperationOutcome).

An outage is logged when it begins, every `SUMMARY_EVERY` seconds while it lasts (how many
requests were answered 503), and when a request is answered again: one line per request gave
3,322 lines in ten seconds of a PostgreSQL outage under load.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dalgu.api.problem import problem_response
from dalgu.errors import StoreUnavailable

log = logging.getLogger("dalgu.api")


#: seconds between two log lines of one outage
SUMMARY_EVERY = 10.0
#: requests refused lately that `/health` can count
RECENT_KEPT = 1000
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class OutageLog:
    """The log lines of a worker's store outages: when one begins, while it lasts, its end."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.refused = 0  # requests answered 503 since the outage began
        self.logged_at = 0.0
        self.logged_count = 0
        self.writes = False  # the outage refused a write: only a write answered ends it
        #: the requests refused lately, for `/health` (monotonic time, detail)
        self.recent: deque[tuple[float, str]] = deque(maxlen=RECENT_KEPT)

    def refused_one(self, request: Request, detail: str) -> None:
        now = time.monotonic()
        self.refused += 1
        self.recent.append((now, detail))
        self.writes = self.writes or request.method not in READS
        if self.since is None:
            self.since, self.logged_at, self.logged_count = now, now, 1
            log.warning(
                "%s %s: %s; answering 503 until the store is back",
                request.method,
                request.url.path,
                detail,
            )
        elif now - self.logged_at >= SUMMARY_EVERY:
            log.warning(
                "the store is still unavailable after %.0f s: %d requests answered 503 "
                "in the last %.0f s (%s)",
                now - self.since,
                self.refused - self.logged_count,
                now - self.logged_at,
                detail,
            )
            self.logged_at, self.logged_count = now, self.refused

    def answered(self, method: str) -> None:
        """A request was answered without an outage: one that was under way has ended, unless
        it refused writes and this was a read (a full disk, a file made read-only: reads go
        on while every write fails)."""
        if self.since is None or (self.writes and method in READS):
            return
        log.warning(
            "the store answers again after %.1f s unavailable: %d requests answered 503",
            time.monotonic() - self.since,
            self.refused,
        )
        self.since, self.refused, self.writes = None, 0, False

    def lately(self, window: float) -> tuple[int, str | None]:
        """Requests answered 503 for a store outage in the last `window` seconds (up to
        `RECENT_KEPT`), and the latest one's reason."""
        now = time.monotonic()
        recent = [detail for at, detail in self.recent if now - at <= window]
        return len(recent), (recent[-1] if recent else None)


OUTAGES = OutageLog()


def store_outage(request: Request, exc: BaseException) -> StoreUnavailable | None:
    """`exc` as the outage of the app's store it reports (logged as `OutageLog` says), or
    None."""
    runtime = getattr(request.app.state, "dalgu", None)
    outage = None if runtime is None else runtime.service.outage(exc)
    if outage is not None:
        OUTAGES.refused_one(request, outage.detail)
    return outage


class OutageAnswer:
    """ASGI middleware: an exception a route raised that reports a store outage becomes a 503
    ProblemDetails (when no response has started); any other goes on to the error handler."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if OUTAGES.since is not None and message["status"] < 500:
                    OUTAGES.answered(scope["method"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            outage = None if started else store_outage(Request(scope), exc)
            if outage is None:
                raise
            await problem_response(outage)(scope, receive, send)
