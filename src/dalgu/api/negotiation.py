"""Content negotiation and @context resolution for one request (clause 6.3).

Decides which media type to answer with (406 otherwise), checks the request's media type (415),
reads and parses the body within the size and depth limits (413 / 400), and resolves the
request's @context from the `Link` header or the body into a term map.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from starlette.requests import Request

from dalgu import jsonbytes
from dalgu.errors import (
    BadRequestData,
    InvalidRequest,
    NotAcceptable,
    UnsupportedMediaType,
    quoted,
)
from dalgu.ldcontext import CORE_CONTEXT_URL, ContextResolver, TermMap
from dalgu.nesting import nesting_depth

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
MediaType = Literal["application/json", "application/ld+json", "application/geo+json"]

_PLAIN_ACCEPT = frozenset({JSON, "*/*", "application/*"})
_LINK = re.compile(r"^\s*<([^>]*)>\s*(;.*)?$")


@dataclass(slots=True)
class RequestContext:
    """What the edge learned about a request before calling a service."""

    tenant: str
    terms: TermMap
    context: Any  # the @context value, as given (URL, object or list); None = core only
    accept: MediaType
    #: what of the request's `Prefer` header this broker applies (clause 6.3.6), as the
    #: answer's `Preference-Applied` value; empty: nothing
    applied: str = ""


#: the NGSI-LD versions whose payloads this broker answers in (V1.9.1)
SPOKEN_VERSIONS = frozenset({"1.9", "1.9.1"})


def preferences(request: Request, accept: MediaType) -> str:
    """The preferences of `Prefer` (RFC 7240) that are applied, as `Preference-Applied` says
    them: `ngsi-ld=<version>` when the payload is of that version (1.9), and `body=json` when
    the answer is GeoJSON (its @context goes in a `Link`, clause 6.3.6)."""
    applied = []
    for line in request.headers.getlist("prefer"):
        for item in line.split(","):
            name, _, value = item.split(";", 1)[0].strip().partition("=")
            name, value = name.strip().lower(), value.strip().strip('"')
            if name == "ngsi-ld" and value in SPOKEN_VERSIONS and accept != GEO_JSON:
                applied.append(f"ngsi-ld={value}")
            elif name == "body" and value.lower() == "json" and accept == GEO_JSON:
                applied.append("body=json")
    return ", ".join(dict.fromkeys(applied))


def tenant_of(request: Request) -> str:
    """The request's tenant. Two `NGSILD-Tenant` lines are refused: RFC 9110 (5.3) reads them
    as one comma-joined value, which is no tenant name, and a proxy that checks one line while
    the broker took another would let a request into a tenant it was not allowed."""
    lines = request.headers.getlist("ngsild-tenant")
    if len(lines) > 1:
        raise BadRequestData("more than one NGSILD-Tenant header: a request has one tenant")
    return checked_tenant(lines[0] if lines else "", "NGSILD-Tenant")


def checked_tenant(tenant: str, given_as: str) -> str:
    """`tenant` when it is a tenant name ("" is the default tenant), else BadRequestData."""
    if tenant and not re.fullmatch(r"[A-Za-z0-9_.:\-/]{1,256}", tenant):
        raise BadRequestData(f"invalid {given_as} {quoted(tenant)}")
    return tenant


def negotiate(request: Request, *, geojson: bool = False) -> MediaType:
    """Pick the response media type from `Accept` (clause 6.3.4, RFC 9110 section 12.5.1).

    Each type Dalgu can answer takes the weight of the most specific range naming it (the type
    itself, then `application/*`, then `*/*`): `application/json;q=0, */*` refuses JSON. The
    highest weight wins; between equal weights, the range the client wrote first, then the
    clause's order (JSON, JSON-LD, GeoJSON)."""
    header = request.headers.get("accept")
    if not header or header in _PLAIN_ACCEPT:
        return "application/json"
    if header == JSON_LD:
        return "application/ld+json"
    ranges: list[tuple[str, float, int]] = []
    for position, part in enumerate(header.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":  # parameter names are case-insensitive
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if media:
            ranges.append((media.lower(), quality, position))
    candidates: tuple[MediaType, ...] = (
        ("application/json", "application/ld+json", "application/geo+json")
        if geojson
        else ("application/json", "application/ld+json")
    )
    best: tuple[tuple[float, int, int], MediaType] | None = None
    for order, candidate in enumerate(candidates):
        weight = _weight(candidate, ranges)
        if weight is None or weight[0] <= 0:
            continue
        rank = (weight[0], -weight[1], -order)
        if best is None or rank > best[0]:
            best = (rank, candidate)
    if best is None:
        offered = ", ".join(candidates)
        raise NotAcceptable(
            f"none of the media types in Accept: {header} can be served; "
            f"this resource is available as {offered}"
        )
    return best[1]


def _weight(media: str, ranges: list[tuple[str, float, int]]) -> tuple[float, int] | None:
    """(q, position) of the most specific range of `ranges` naming `media`, None if none."""
    family = media.split("/")[0] + "/*"
    found: tuple[int, float, int] | None = None
    for given, quality, position in ranges:
        specific = 3 if given == media else 2 if given == family else 1 if given == "*/*" else 0
        if specific and (found is None or specific > found[0]):
            found = (specific, quality, position)
    return None if found is None else (found[1], found[2])


def link_context(request: Request) -> str | None:
    """The @context URL of a JSON-LD `Link` header, if any (clause 6.3.5)."""
    values = request.headers.getlist("link")
    if not values:
        return None
    found: list[str] = []
    for header in values:
        for part in _split_links(header):
            match = _LINK.match(part)
            if match is None:
                raise BadRequestData(f"invalid Link header {part!r}")
            params = match.group(2) or ""
            if CONTEXT_REL in params:
                found.append(match.group(1))
    if len(found) > 1:
        raise BadRequestData("more than one JSON-LD context Link header")
    return found[0] if found else None


def _split_links(header: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(header):
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(header[start:index])
            start = index + 1
    parts.append(header[start:])
    return [p for p in parts if p.strip()]


async def read_json(request: Request, max_depth: int) -> Any:
    """The request body as JSON, nesting no deeper than `max_depth`. Its size is bounded as it
    arrives, before any route reads it whole (`bodylimit.BoundedBody`, 413)."""
    coding = request.headers.get("content-encoding", "identity").strip().lower()
    if coding != "identity":  # RFC 9110 (15.5.16): a content coding the server does not take
        raise UnsupportedMediaType(
            f"Content-Encoding {coding} is not supported: send the body without a content coding"
        )
    body = await request.body()
    if not body.strip():
        raise InvalidRequest("the request body is empty")
    try:
        data = jsonbytes.loads(body)
    except jsonbytes.InexactInteger as exc:
        raise BadRequestData(f"{exc.msg} (at character {exc.pos})") from None
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from None
    if b"\\u0000" in body and _NUL.search(body):  # one C scan for nearly every body
        raise BadRequestData("the body holds a NUL character (\\u0000), which no text may hold")
    # a body nests no deeper than its opening brackets plus one (strings' brackets only add to
    # the count): most bodies are cleared by two C scans, without walking what they parsed to
    brackets = body.count(b"{") + body.count(b"[")
    if brackets >= max_depth and nesting_depth(data, max_depth) > max_depth:
        raise BadRequestData(f"the body nests deeper than {max_depth} levels")
    return data


#: a JSON escape of NUL: `\u0000` after an even number of backslashes (`\\u0000` is text)
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def body_media_type(request: Request, *, merge_patch: bool = False) -> str:
    raw = request.headers.get("content-type", "")
    media = raw.split(";")[0].strip().lower()
    allowed = {JSON, JSON_LD} | ({MERGE_PATCH} if merge_patch else set())
    if media not in allowed:
        raise UnsupportedMediaType(
            f"Content-Type {raw or '(none)'} is not supported here; use "
            + " or ".join(sorted(allowed))
        )
    return media


async def body_context(request: Request, body: Any, media: str) -> Any:
    """The @context of a request with a body: from the body (ld+json) or the Link header."""
    link = link_context(request)
    items = body if isinstance(body, list) else [body]
    if isinstance(body, list) and body and not any(isinstance(i, dict) for i in body):
        return link  # an array of ids (batch delete) has no @context to carry
    if media == JSON_LD:
        if link is not None:
            raise BadRequestData("application/ld+json requests must not carry a context Link")
        contexts = [i.get("@context") for i in items if isinstance(i, dict)]
        if not contexts or any(c is None for c in contexts):
            raise BadRequestData("application/ld+json bodies must contain an @context")
        return contexts[0]
    if any(isinstance(i, dict) and "@context" in i for i in items):
        raise BadRequestData("application/json bodies must not contain @context; use a Link")
    return link


async def resolve(resolver: ContextResolver, context: Any) -> TermMap:
    return await resolver.resolve(context)


def response_context(context: Any) -> Any:
    return CORE_CONTEXT_URL if context is None else context
