"""The FHIR R4 REST API under `/fhir`: parse the request, resolve the principal, call the FHIR
service, render the answer (FHIR RESTful API, http://hl7.org/fhir/R4/http.html)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dalgu import __version__
from dalgu.api.edge import runtime
from dalgu.api.fhir.identity import header_principal
from dalgu.api.fhir.respond import (
    FHIR_JSON,
    check_content_type,
    fhir_endpoint,
    fhir_response,
    lenient,
    media_type,
    prefer_return,
    version_headers,
)
from dalgu.api.negotiation import read_json
from dalgu.errors import (
    BadRequestData,
    MethodNotAllowed,
    OperationNotSupported,
    ResourceNotFound,
)
from dalgu.fhir import decimals
from dalgu.fhir.bundle import BundleProcessor
from dalgu.fhir.capability import capability_statement
from dalgu.fhir.dates import date_range
from dalgu.fhir.history import history_of
from dalgu.fhir.model import RESOURCE_TYPES, Principal, StoredResource, version_number
from dalgu.fhir.patch import check_patch_media
from dalgu.fhir.preconditions import parse_if_match, parse_none_match, read_none_match
from dalgu.fhir.render import body_of, history, operation_outcome, searchset
from dalgu.fhir.search import MAX_OFFSET
from dalgu.fhir.service import FhirService
from dalgu.fhir.subsetting import Subset, parse_subset

PREFIX = "/fhir"


def _service(request: Request) -> FhirService:
    service = runtime(request).fhir
    if service is None:
        raise OperationNotSupported("this store keeps no FHIR resources")
    return service


def _principal(request: Request) -> Principal:
    resolver = runtime(request).fhir_principal or header_principal
    return resolver(request)


def base_url(request: Request) -> str:
    public = runtime(request).settings.public_url
    root = public.rstrip("/") if public else str(request.base_url).rstrip("/")
    return root + PREFIX


def _type(request: Request) -> str:
    type_name: str = request.path_params["type"]
    if type_name not in RESOURCE_TYPES:
        raise ResourceNotFound(f"this server keeps no {type_name} resources")
    return type_name


async def _json(request: Request) -> Any:
    """The body as JSON, its decimals as written (`dalgu.fhir.decimals`). The body is read
    whole first (the BoundedBody middleware bounds it), then checked by `read_json`."""
    settings = runtime(request).settings
    raw = await request.body()
    parsed = await read_json(request, settings.max_json_depth)
    return decimals.loads(raw, parsed)


async def _body(request: Request) -> Any:
    check_content_type(request)
    return await _json(request)


def _read_subset(request: Request, type_name: str) -> Subset | None:
    """What of the resource a read shows: `_summary` (not `count`) and `_elements`."""
    summary = request.query_params.get("_summary")
    if summary == "count":
        raise BadRequestData("_summary=count is for searches")
    return parse_subset(type_name, summary, request.query_params.get("_elements"))


def _resource_response(
    request: Request,
    stored: StoredResource,
    *,
    status: int,
    with_location: bool,
    subset: Subset | None = None,
) -> Response:
    headers = version_headers(stored, base_url(request), with_location=with_location)
    preference = prefer_return(request)
    if preference == "minimal":
        return Response(status_code=status, headers=headers)
    if preference == "OperationOutcome":
        outcome = operation_outcome(
            None, information=f"{stored.reference} version {stored.version}"
        )
        return fhir_response(outcome, status=status, headers=headers)
    return fhir_response(body_of(stored, subset), status=status, headers=headers)


# --- handlers -----------------------------------------------------------------------------


@fhir_endpoint
async def metadata(request: Request) -> Response:
    return fhir_response(capability_statement(base_url(request), __version__))


def _read_response(request: Request, stored: StoredResource, subset: Subset | None) -> Response:
    """The resource read, or `304 Not Modified` when `If-None-Match` names its version (a
    conditional read: the client's copy is current)."""
    condition = read_none_match(request.headers.get("if-none-match"))
    if condition is not None and condition.names(stored):
        headers = version_headers(stored, base_url(request), with_location=False)
        return Response(status_code=304, headers=headers)
    return _resource_response(request, stored, status=200, with_location=False, subset=subset)


@fhir_endpoint
async def read(request: Request) -> Response:
    type_name, principal = _type(request), _principal(request)
    subset = _read_subset(request, type_name)
    stored = await _service(request).read(
        principal, type_name, request.path_params["id"], base=base_url(request)
    )
    return _read_response(request, stored, subset)


@fhir_endpoint
async def vread(request: Request) -> Response:
    type_name, principal = _type(request), _principal(request)
    version = request.path_params["vid"]
    number = version_number(version)
    if number is None:
        raise ResourceNotFound(f"version {version!r} does not exist")
    subset = _read_subset(request, type_name)
    stored = await _service(request).read(
        principal, type_name, request.path_params["id"], number, base=base_url(request)
    )
    return _read_response(request, stored, subset)


@fhir_endpoint
async def create(request: Request) -> Response:
    type_name, principal = _type(request), _principal(request)
    body = await _body(request)
    condition = request.headers.get("if-none-exist")
    stored = await _service(request).create(
        principal, type_name, body, if_none_exist=condition, base=base_url(request)
    )
    if not stored.created:  # If-None-Exist matched this one: nothing was created
        return _resource_response(request, stored, status=200, with_location=False)
    return _resource_response(request, stored, status=201, with_location=True)


@fhir_endpoint
async def update(request: Request) -> Response:
    type_name, principal = _type(request), _principal(request)
    if_match = parse_if_match(request.headers.get("if-match"))
    if_none_match = parse_none_match(request.headers.get("if-none-match"))
    body = await _body(request)
    stored = await _service(request).update(
        principal,
        type_name,
        request.path_params["id"],
        body,
        if_match=if_match,
        if_none_match=if_none_match,
        base=base_url(request),
    )
    status = 201 if stored.created else 200
    return _resource_response(request, stored, status=status, with_location=stored.created)


@fhir_endpoint
async def patch(request: Request) -> Response:
    type_name, principal = _type(request), _principal(request)
    media = media_type(request)
    check_patch_media(media)
    document = await _json(request)
    if_match = parse_if_match(request.headers.get("if-match"))
    stored = await _service(request).patch(
        principal,
        type_name,
        request.path_params["id"],
        media,
        document,
        if_match=if_match,
        base=base_url(request),
    )
    return _resource_response(request, stored, status=200, with_location=False)


@fhir_endpoint
async def delete(request: Request) -> Response:
    type_name, principal = _type(request), _principal(request)
    if_match = parse_if_match(request.headers.get("if-match"))
    stored = await _service(request).delete(
        principal, type_name, request.path_params["id"], if_match=if_match
    )
    return Response(status_code=204, headers={"ETag": stored.etag})


def _history_params(request: Request) -> tuple[float | None, int | None, int]:
    params = request.query_params
    unknown = set(params) - {"_since", "_count", "_offset", "_format", "_pretty"}
    if unknown:
        raise BadRequestData(f"unknown history parameter(s): {', '.join(sorted(unknown))}")
    since = date_range(params["_since"])[0] if "_since" in params else None
    try:
        count = int(params["_count"]) if "_count" in params else None
        offset = int(params.get("_offset", "0"))
    except ValueError:
        raise BadRequestData("_count and _offset are integers") from None
    if not 0 <= offset <= MAX_OFFSET:  # nor beyond what a store takes: a clear 400, never 500
        raise BadRequestData(f"_offset must be between 0 and {MAX_OFFSET}")
    return since, count, offset


async def _history(request: Request, resource_id: str | None) -> Response:
    type_name, principal = _type(request), _principal(request)
    since, count, offset = _history_params(request)
    service = _service(request)
    base = base_url(request)
    versions, total = await history_of(
        service,
        principal,
        type_name,
        resource_id,
        since=since,
        count=count,
        offset=offset,
        base=base,
    )
    path = f"{base}/{type_name}" + (f"/{resource_id}" if resource_id else "") + "/_history"
    kept = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "_offset"])
    page_url = path + (f"?{kept}" if kept else "")
    used = service.count_of(count)  # the links page by what was served
    return fhir_response(history(base, page_url, versions, total, used, offset))


@fhir_endpoint
async def instance_history(request: Request) -> Response:
    return await _history(request, request.path_params["id"])


@fhir_endpoint
async def type_history(request: Request) -> Response:
    return await _history(request, None)


async def _search(request: Request, items: list[tuple[str, str]]) -> Response:
    type_name, principal = _type(request), _principal(request)
    service = _service(request)
    query = service.parse_search(type_name, items, lenient=lenient(request), base=base_url(request))
    text = "&".join(f"{k}={v}" for k, v in items)
    result = await service.search(principal, query, text=f"{type_name}?{text}")
    # the links repeat what the search used: not what a lenient search skipped
    dropped = {"_format", "_pretty", *query.ignored}
    params = [(k, v) for k, v in items if k not in dropped]
    return fhir_response(
        searchset(
            base_url(request),
            type_name,
            params,
            result.matches,
            result.included,
            result.total,
            query.count,
            query.offset,
            result.notes,
            query.subset,
        )
    )


@fhir_endpoint
async def search(request: Request) -> Response:
    return await _search(request, list(request.query_params.multi_items()))


@fhir_endpoint
async def search_post(request: Request) -> Response:
    media = request.headers.get("content-type", "").split(";")[0].strip()
    if media != "application/x-www-form-urlencoded":
        raise BadRequestData("POST [type]/_search takes application/x-www-form-urlencoded")
    form = parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True)
    return await _search(request, list(request.query_params.multi_items()) + form)


@fhir_endpoint
async def bundle(request: Request) -> Response:
    principal = _principal(request)
    body = await _body(request)
    processor = BundleProcessor(_service(request), base_url(request), prefer_return(request))
    return fhir_response(await processor.process(principal, body))


@fhir_endpoint
async def not_here(request: Request) -> Response:
    """Any other path or method under /fhir: 404, or 405 for a known path."""
    segments = [s for s in request.path_params.get("rest", "").split("/") if s]
    if segments and segments[0] in RESOURCE_TYPES and len(segments) <= 2:
        if segments[0] == "AuditEvent" and request.method in ("PUT", "DELETE", "POST", "PATCH"):
            raise MethodNotAllowed(
                "AuditEvents cannot be created, changed or deleted via the API",
                allow="GET, HEAD",
            )
        allow = "GET, HEAD, POST" if len(segments) == 1 else "GET, HEAD, PUT, PATCH, DELETE"
        raise MethodNotAllowed(
            f"{request.method} is not supported on {request.url.path}", allow=allow
        )
    if not segments and request.method != "POST":
        raise MethodNotAllowed(f"{request.method} is not supported on {PREFIX}", allow="POST")
    raise ResourceNotFound(f"nothing at {request.url.path}")


ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


def routes() -> list[BaseRoute]:
    p = PREFIX
    t = f"{p}/{{type}}"
    return [
        Route(f"{p}/metadata", metadata, methods=["GET"]),
        Route(p, bundle, methods=["POST"]),
        Route(f"{t}/_history", type_history, methods=["GET"]),
        Route(f"{t}/_search", search_post, methods=["POST"]),
        Route(f"{t}/{{id}}/_history/{{vid}}", vread, methods=["GET"]),
        Route(f"{t}/{{id}}/_history", instance_history, methods=["GET"]),
        Route(f"{t}/{{id}}", read, methods=["GET"]),
        Route(f"{t}/{{id}}", update, methods=["PUT"]),
        Route(f"{t}/{{id}}", patch, methods=["PATCH"]),
        Route(f"{t}/{{id}}", delete, methods=["DELETE"]),
        Route(t, search, methods=["GET"]),
        Route(t, create, methods=["POST"]),
        Route(f"{p}/{{rest:path}}", not_here, methods=ALL_METHODS),
        Route(p, not_here, methods=ALL_METHODS),
    ]


__all__ = ["FHIR_JSON", "routes"]
