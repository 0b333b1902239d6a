"""CKAN's Action API envelope: `{"help", "success", "result"}`, errors as CKAN types them
(`Not Found Error` 404, `Validation Error` 409, `Authorization Error` 403), and an action's
parameters from a GET query string or a POST JSON body alike."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from dalgu.api.edge import runtime
from dalgu.api.negotiation import checked_tenant, tenant_of
from dalgu.api.outage import store_outage
from dalgu.api.problem import RETRY_AFTER
from dalgu.errors import (
    AccessDenied,
    AlreadyExists,
    BadRequestData,
    DalguError,
    InvalidFields,
    InvalidRequest,
    NotAcceptable,
    ResourceNotFound,
    StoreUnavailable,
)

log = logging.getLogger("dalgu.opendata")
PREFIX = "/opendata"
#: query parameters whose value is a list, sent either repeated or as JSON (`facet.field`)
LIST_PARAMETERS = frozenset(["facet.field", "fq_list", "tags", "attributes", "withheld_attributes"])


class BadActionRequest(InvalidRequest):
    """A request CKAN answers 400 with no error type: an unknown action, a body that is not
    a JSON object."""


def base_url(request: Request) -> str:
    public = runtime(request).settings.public_url
    return public.rstrip("/") if public else str(request.base_url).rstrip("/")


def portal_tenant(request: Request) -> str:
    """The tenant of a download or DCAT request: its `tenant` query parameter, which the
    portal's URLs carry (a browser or a harvester sends no header), else `NGSILD-Tenant`.
    Both naming different tenants is a Validation Error, never one tenant's data for the
    other's."""
    header = tenant_of(request)
    if "tenant" not in request.query_params:
        return header
    named = checked_tenant(request.query_params["tenant"], "tenant")
    if header and header != named:
        raise InvalidFields({"tenant": [f"names {named!r}, NGSILD-Tenant {header!r}"]})
    return named


def help_url(request: Request, action: str) -> str:
    return f"{base_url(request)}{PREFIX}/api/3/action/help_show?name={action}"


def _json(data: Any, status: int) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json;charset=utf-8"
    )


def success(request: Request, action: str, result: Any) -> Response:
    return _json({"help": help_url(request, action), "success": True, "result": result}, 200)


def failure(request: Request, action: str, error: DalguError) -> Response:
    """`error` as CKAN reports it."""
    body: dict[str, Any]
    if isinstance(error, ResourceNotFound):
        status, body = 404, {"__type": "Not Found Error", "message": f"Not found: {error.detail}"}
    elif isinstance(error, AccessDenied):
        status = 403
        body = {"__type": "Authorization Error", "message": f"Access denied: {error.detail}"}
    elif isinstance(error, BadActionRequest):
        status, body = 400, {"message": f"Bad request - {error.detail}"}
    elif isinstance(error, InvalidFields):
        status = 409
        body = {"__type": "Validation Error", "message": error.detail, **error.fields}
    elif isinstance(error, AlreadyExists):
        status = 409
        body = {"__type": "Validation Error", "message": error.detail, "name": [error.detail]}
    elif isinstance(error, NotAcceptable):
        status, body = 406, {"message": f"Not acceptable: {error.detail}"}
    elif isinstance(error, BadRequestData | InvalidRequest):
        status = 409
        body = {"__type": "Validation Error", "message": error.detail}
    else:  # its own status: a body too large (413) or too slow (408) is no server error
        status = error.status
        body = {"__type": error.title, "message": error.detail}
    response = _json({"help": help_url(request, action), "success": False, "error": body}, status)
    if isinstance(error, StoreUnavailable):
        response.headers["Retry-After"] = RETRY_AFTER
    return response


def unexpected(request: Request, action: str, exc: Exception) -> Response:
    outage = store_outage(request, exc)
    if outage is not None:
        return failure(request, action, outage)
    log.exception("unexpected error in open-data action %s", action)
    return failure(request, action, DalguError("the server failed to handle this request"))


def query_parameters(request: Request) -> QueryParams:
    """The query string's parameters, its bytes read as UTF-8 whether percent-encoded or not:
    Starlette reads bytes that are not percent-encoded as Latin-1 (`q=대기` typed in a URL or
    sent by `curl -g` found nothing), where CKAN (werkzeug) reads them as UTF-8."""
    raw: bytes = request.scope.get("query_string", b"")
    return QueryParams(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


FORM = "application/x-www-form-urlencoded"


def _fields(query: QueryParams, params: dict[str, Any]) -> None:
    """The fields of a query string or a form into `params` (repeated keys and JSON lists of
    the list parameters as lists)."""
    for key in query:
        if key == "tenant":  # names the tenant (`portal_tenant`), as in the portal's URLs
            continue
        values = query.getlist(key)
        if key in LIST_PARAMETERS:
            items: list[Any] = []
            for value in values:
                if value.startswith("["):
                    try:
                        parsed = orjson.loads(value)
                    except orjson.JSONDecodeError:
                        raise InvalidFields({key: ["Not a JSON list"]}) from None
                    items += parsed if isinstance(parsed, list) else [parsed]
                else:
                    items.append(value)
            params[key] = items
        else:
            params[key] = values[-1]


def _form(raw: bytes) -> bytes | dict[str, Any]:
    """A form's fields as CKAN reads them (`_get_request_data`), or the JSON it holds: what
    `curl -d '{...}'` sends without a Content-Type, as a form of one key (CKAN decodes that
    key; the body as it is, `+` and `%` kept, here)."""
    if raw.lstrip().startswith(b"{"):
        return raw
    pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    if len(pairs) == 1 and pairs[0][1] in ("", "1") and pairs[0][0].lstrip().startswith("{"):
        return pairs[0][0].encode()
    fields: dict[str, Any] = {}
    _fields(QueryParams(pairs), fields)
    return fields


async def parameters(request: Request) -> dict[str, Any]:
    """An action's parameters: the JSON object of a POST, or its form's fields, as CKAN reads
    them (a query string's too), or a GET's query string (repeated keys and JSON lists as
    lists)."""
    params: dict[str, Any] = {}
    _fields(query_parameters(request), params)
    if request.method == "POST":
        raw = await request.body()  # its size bounded by `bodylimit.BoundedBody`
        if raw.strip():
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media and media not in ("application/json", "text/plain", FORM):
                raise BadActionRequest(
                    f"send the parameters as application/json or {FORM}, not {media}"
                )
            if media == FORM:
                form = _form(raw)
                if isinstance(form, dict):
                    params.update(form)
                    return params
                raw = form
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise BadActionRequest(f"JSON Error: {exc}") from None
            if not isinstance(body, dict):
                raise BadActionRequest("JSON Error: the body must be a JSON object")
            params.update(body)
    return params


def credential(request: Request) -> str | None:
    """The API token a CKAN client sends (`Authorization: <token>`, `Bearer` allowed, or the
    older `X-CKAN-API-Key`)."""
    value = request.headers.get("authorization") or request.headers.get("x-ckan-api-key")
    if not value:
        return None
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest else value.strip()
