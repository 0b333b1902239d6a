"""The HTTP edge's one translation of errors: RFC 9457 ProblemDetails with NGSI-LD types."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from dalgu.errors import NGSI_LD_ERRORS, DalguError, StoreUnavailable

#: seconds a client is asked to wait after a store outage (`Retry-After`)
RETRY_AFTER = "5"

log = logging.getLogger("dalgu.api")

_HTTP_KINDS = {
    400: "BadRequestData",
    404: "ResourceNotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "AlreadyExists",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "OperationNotSupported",
}


#: characters of a `detail` sent back: one naming a client's 900 kB id sent it all back
MAX_DETAIL = 1000


def short_detail(detail: str) -> str:
    """`detail` up to `MAX_DETAIL` characters, and how many more there were."""
    if len(detail) <= MAX_DETAIL:
        return detail
    return f"{detail[:MAX_DETAIL]}… ({len(detail) - MAX_DETAIL} characters more)"


def problem_body(error: DalguError) -> dict[str, object]:
    body: dict[str, object] = {
        "type": error.type_uri,
        "title": error.title,
        "status": error.status,
        "detail": short_detail(error.detail),
    }
    for key, value in error.extra.items():
        if key not in ("entity_id", "registrationId"):  # members of a BatchEntityError
            body[key] = value
    return body


def problem_response(error: DalguError) -> Response:
    """The ProblemDetails of `error`; a store outage asks the client to retry later."""
    headers = {"Retry-After": RETRY_AFTER} if isinstance(error, StoreUnavailable) else None
    return Response(
        orjson.dumps(problem_body(error)),
        status_code=error.status,
        media_type="application/json",
        headers=headers,
    )


async def dalgu_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DalguError)
    return problem_response(exc)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    kind = _HTTP_KINDS.get(exc.status_code, "InvalidRequest")
    body = {
        "type": NGSI_LD_ERRORS + kind,
        "title": kind,
        "status": exc.status_code,
        "detail": exc.detail,
    }
    return Response(
        orjson.dumps(body),
        status_code=exc.status_code,
        media_type="application/json",
        headers=headers,
    )


def allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path (RFC 9110: a 405's `Allow`).

    Each route serves one or a few methods, so the router's own 405 names only the methods of
    the first route whose path matched (`GET` of `/subscriptions`, not its `POST`)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods.update(route.methods)
    return ", ".join(sorted(methods))


async def client_gone_handler(request: Request, exc: Exception) -> Response:
    """A client that went away before its body was read: nobody reads the answer, and a log
    line at error level with two tracebacks (6 kB) for each was a way to fill the log."""
    log.info(
        "client went away before its request was read: %s %s", request.method, request.url.path
    )
    return Response(status_code=400)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    body = {
        "type": NGSI_LD_ERRORS + "InternalError",
        "title": "Internal error",
        "status": 500,
        "detail": f"{type(exc).__name__}: the server failed to handle this request",
    }
    return Response(orjson.dumps(body), status_code=500, media_type="application/json")
