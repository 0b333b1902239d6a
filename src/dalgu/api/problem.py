"""The HTTP edge's one translation of errors: RFC 9457 ProblemDetails with NGSI-LD types."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dalgu.errors import NGSI_LD_ERRORS, DalguError

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


def problem_body(error: DalguError) -> dict[str, object]:
    body: dict[str, object] = {
        "type": error.type_uri,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    for key, value in error.extra.items():
        if key != "entity_id":
            body[key] = value
    return body


def problem_response(error: DalguError) -> Response:
    return Response(
        orjson.dumps(problem_body(error)),
        status_code=error.status,
        media_type="application/json",
    )


async def dalgu_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DalguError)
    return problem_response(exc)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
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
        headers=exc.headers,
    )


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    body = {
        "type": NGSI_LD_ERRORS + "InternalError",
        "title": "Internal error",
        "status": 500,
        "detail": f"{type(exc).__name__}: the server failed to handle this request",
    }
    return Response(orjson.dumps(body), status_code=500, media_type="application/json")
