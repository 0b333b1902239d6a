"""A store outage (PostgreSQL down or restarting, the SQLite file locked or unreadable) is
answered 503 with `Retry-After`, as a ProblemDetails, never a 500.

The store says which of its exceptions report an outage (`EntityStore.outage`, asked through
the entity service); no transport knows asyncpg or sqlite3. `OutageAnswer` wraps the routes inside
Starlette's error middleware, which would log the exception's traceback as a bug and answer
500; the FHIR endpoints ask `store_outage` themselves (they answer OperationOutcome).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dalgu.api.problem import problem_response
from dalgu.errors import StoreUnavailable

log = logging.getLogger("dalgu.api")


def store_outage(request: Request, exc: BaseException) -> StoreUnavailable | None:
    """`exc` as the outage of the app's store it reports (logged as one line), or None."""
    runtime = getattr(request.app.state, "dalgu", None)
    outage = None if runtime is None else runtime.service.outage(exc)
    if outage is not None:
        log.warning("%s %s: %s", request.method, request.url.path, outage.detail)
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
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            outage = None if started else store_outage(Request(scope), exc)
            if outage is None:
                raise
            await problem_response(outage)(scope, receive, send)
