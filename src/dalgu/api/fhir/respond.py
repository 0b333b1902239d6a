"""FHIR answers on the wire: `application/fhir+json` bytes, versioning headers, and every error
as an OperationOutcome with its status (never ProblemDetails, never a bare 500)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from dalgu.api.outage import store_outage
from dalgu.api.problem import RETRY_AFTER
from dalgu.errors import (
    DalguError,
    InvalidRequest,
    NotAcceptable,
    StoreUnavailable,
    UnsupportedMediaType,
)
from dalgu.fhir import decimals
from dalgu.fhir.model import StoredResource
from dalgu.fhir.render import location, operation_outcome
from dalgu.fhir.search import JSON_FORMATS, JSON_TYPES

log = logging.getLogger("dalgu.fhir")
FHIR_JSON = "application/fhir+json"
_WILDCARDS = ("application/*", "*/*")
_ACCEPTED = (*JSON_TYPES, *_WILDCARDS, "json")
Handler = Callable[[Request], Awaitable[Response]]


def fhir_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        decimals.dumps(data),
        status_code=status,
        headers=headers,
        media_type=f"{FHIR_JSON}; charset=utf-8",
    )


def outcome_response(error: DalguError) -> Response:
    headers = None
    if error.status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="dalgu"'}
    elif isinstance(error, StoreUnavailable):
        headers = {"Retry-After": RETRY_AFTER}
    elif error.status == 405 and isinstance(error.extra.get("allow"), str):
        headers = {"Allow": error.extra["allow"]}  # RFC 9110 15.5.6
    return fhir_response(operation_outcome(error), status=error.status, headers=headers)


def fhir_endpoint(handler: Handler) -> Handler:
    """Every FHIR handler: content negotiation, and errors as OperationOutcome."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            check_accept(request)
            return await handler(request)
        except DalguError as error:
            return outcome_response(error)
        except ClientDisconnect:  # the client went away before its body came: no one to answer
            log.info("client disconnected during %s %s", request.method, request.url.path)
            return outcome_response(InvalidRequest("the client disconnected before its body came"))
        except Exception as exc:
            outage = store_outage(request, exc)
            if outage is not None:
                return outcome_response(outage)
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            return outcome_response(DalguError("the server failed to handle this request"))

    return endpoint


def r4(media: str) -> bool:
    """Whether a media type's `fhirVersion` parameter, if any, names R4 (`4.0`, `4.0.1`):
    the version of the content it stands for (http.html, FHIR Version parameter)."""
    for parameter in media.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "fhirversion":
            version = value.strip().strip('"')
            return version == "4.0" or version.startswith("4.0.")
    return True


def check_accept(request: Request) -> None:
    """406 unless the answer may be R4 JSON: `_format` (which overrides `Accept`) or
    `Accept`."""
    fmt = request.query_params.get("_format")
    if fmt is not None:
        if fmt.split(";")[0].strip().lower() not in JSON_FORMATS or not r4(fmt):
            raise NotAcceptable(f"this server answers {FHIR_JSON} only, not _format={fmt!r}")
        return
    accept = request.headers.get("accept", "")
    if not accept:
        return
    ranges = [(part.split(";")[0].strip().lower(), part) for part in accept.split(",")]
    # q=0 is "not acceptable" (RFC 9110 12.4.2): a range so marked is no answer, and the
    # media type itself refused is not let in again by a wildcard (the more specific wins)
    refused = {media for media, part in ranges if _quality(part) == 0}
    for media, part in ranges:
        if media in refused or (FHIR_JSON in refused and media in _WILDCARDS):
            continue
        if media in _ACCEPTED and r4(part):
            return
    raise NotAcceptable(f"this server answers {FHIR_JSON} of FHIR R4 (4.0) only, not {accept!r}")


def _quality(media_range: str) -> float:
    """The `q` weight of an `Accept` media range (1 when it has none or an unreadable one)."""
    for parameter in media_range.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 1.0
    return 1.0


def media_type(request: Request) -> str:
    """The request body's media type, lower case, without parameters ('' when none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_content_type(request: Request) -> None:
    media = media_type(request)
    if media not in JSON_TYPES:
        raise UnsupportedMediaType(f"send {FHIR_JSON}, not {media or 'no content type'!r}")
    sent = request.headers.get("content-type", "")
    if not r4(sent):
        raise UnsupportedMediaType(f"this server takes FHIR R4 (4.0) content, not {sent!r}")


def http_date(instant: str) -> str:
    return format_datetime(datetime.fromisoformat(instant.replace("Z", "+00:00")), usegmt=True)


def version_headers(stored: StoredResource, base: str, *, with_location: bool) -> dict[str, str]:
    headers = {"ETag": stored.etag, "Last-Modified": http_date(stored.last_updated)}
    if with_location:
        headers["Location"] = location(base, stored)
    return headers


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """`text` split at each `separator` that is not inside a quoted-string."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _word(text: str) -> str:
    """A token, or the content of a quoted-string (RFC 9110 5.6.4, its escapes undone)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        out: list[str] = []
        escaped = False
        for char in text[1:-1]:
            if escaped or char != "\\":
                out.append(char)
                escaped = False
            else:
                escaped = True
        return "".join(out)
    return text


def preferences(request: Request) -> dict[str, str]:
    """The request's preferences (RFC 7240 2): every `Prefer` field, as if one field held
    them comma-separated; names compared case-insensitively, values as sent (a token or a
    quoted-string: `return="minimal"` is `return=minimal`); the first of a name counts, and
    parameters after `;` are ignored."""
    found: dict[str, str] = {}
    for field in request.headers.getlist("prefer"):
        for preference in _split_outside_quotes(field, ","):
            head = _split_outside_quotes(preference, ";")[0]
            name, _, value = head.partition("=")
            name = name.strip().lower()
            if name and name not in found:
                found[name] = _word(value)
    return found


def prefer_return(request: Request) -> str:
    """`representation` (the default), `minimal` or `OperationOutcome` (Prefer: return=)."""
    wanted = preferences(request).get("return")
    return wanted if wanted in ("minimal", "OperationOutcome") else "representation"


def lenient(request: Request) -> bool:
    """Whether the search skips unknown parameters (Prefer: handling=lenient)."""
    return preferences(request).get("handling") == "lenient"
