"""The HTTP edge's one translation of errors: RFC 9457 ProblemDetails with NGSI-LD types."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from dalgu.errors import NGSI_LD_ERRORS, DalguError, MethodNotAllowed, StoreUnavailable

#: seconds a client is asked to wait after a store outage (`Retry-After`)
RETRY_AFTER = "5"

log = logging.getLogger("dalgu.api")

#: the media types of PATCH bodies (RFC 5789's `Accept-Patch`): every PATCH takes JSON and
#: JSON-LD; those of `MERGE_PATCH_ROUTES` (by route name) JSON Merge Patch too
PATCH_MEDIA = "application/json, application/ld+json"
MERGE_PATCH_MEDIA = PATCH_MEDIA + ", application/merge-patch+json"
MERGE_PATCH_ROUTES = frozenset(
    {
        "merge_entity",
        "patch_attribute",
        "update_attributes",
        "modify_instance",
        "update_subscription",
        "update_registration",
        "update_csource_subscription",
    }
)

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])
_REFUSALS: set[Callable[..., Any]] = set()


def refusal(endpoint: _Endpoint) -> _Endpoint:
    """Marks an endpoint that only refuses its methods (with a more helpful error than the
    router's): they are not methods of the resource, and a 405's or OPTIONS's `Allow` omits
    them."""
    _REFUSALS.add(endpoint)
    return endpoint


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
    response = problem_response(exc)
    if isinstance(exc, MethodNotAllowed):  # RFC 9110 15.5.6: a 405 names what is allowed
        response.headers["Allow"] = allowed_methods(request)
    return response


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = exc.headers
    if exc.status_code == 411:  # "just a 411 HTTP status code (without any payload body)"
        return Response(status_code=411)
    if exc.status_code == 405 and request.method == "OPTIONS":
        return options_response(request)
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


def options_response(request: Request) -> Response:
    """An `OPTIONS` request on a resource (RFC 9110 9.3.7): its methods in `Allow`, and in
    `Accept-Patch` the bodies its PATCH takes (RFC 5789 3.1), as Orion-LD answers."""
    routes = _resource_routes(request)
    methods = {method for route in routes for method in route.methods or ()}
    headers = {"Allow": ", ".join(sorted(methods | {"OPTIONS"}))}
    patching = [route for route in routes if "PATCH" in (route.methods or ())]
    if patching:
        merge = any(route.name in MERGE_PATCH_ROUTES for route in patching)
        headers["Accept-Patch"] = MERGE_PATCH_MEDIA if merge else PATCH_MEDIA
    return Response(status_code=204, headers=headers)


def allowed_methods(request: Request) -> str:
    """The methods of the resource at the request's path (RFC 9110: a 405's `Allow`)."""
    methods = {method for route in _resource_routes(request) for method in route.methods or ()}
    return ", ".join(sorted(methods))


def _resource_routes(request: Request) -> list[Route]:
    """The routes that serve the request's path as the resource it names.

    Each route serves one or a few methods, so the router's own 405 names only the methods of
    the first route whose path matched (`GET` of `/subscriptions`, not its `POST`). Of the
    routes whose path matches, those whose parameters take the least of it: an entity id may
    hold slashes, so `/entities/{id}` also matches `/entities/urn:x:1/attrs`, whose methods
    are those of `/entities/{id}/attrs`. A refusing endpoint's methods are none."""
    found: dict[int, list[Route]] = {}
    for route in request.app.router.routes:
        if not isinstance(route, Route) or not route.methods or route.endpoint in _REFUSALS:
            continue
        match, child = route.matches(request.scope)
        if match is not Match.NONE:
            taken = sum(len(str(value)) for value in child.get("path_params", {}).values())
            found.setdefault(taken, []).append(route)
    return found[min(found)] if found else []


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
