"""Build NGSI-LD responses: JSON bytes with the @context in the body or in a `Link` header."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

import orjson
from starlette.responses import Response

from dalgu.api.negotiation import CONTEXT_REL, GEO_JSON, JSON, JSON_LD, RequestContext
from dalgu.broker.rendered import with_context
from dalgu.ldcontext import CORE_CONTEXT_URL

CONTEXTS_PATH = "/ngsi-ld/v1/jsonldContexts/"
#: the request headers every NGSI-LD answer depends on (RFC 9110 §12.5.5): the media type,
#: the @context the names are compacted with, and the tenant (`Fiware-Service` names one
#: too); without it a shared cache could serve one tenant's data to another
VARY = b"Accept, Link, NGSILD-Tenant, Fiware-Service"


def implicit_context_id(context: Any) -> str:
    return hashlib.sha256(orjson.dumps(context, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]


def context_url(context: Any, base_url: str) -> str:
    if context is None:
        return CORE_CONTEXT_URL
    if isinstance(context, str):
        return context
    return base_url + CONTEXTS_PATH + implicit_context_id(context)


@lru_cache(maxsize=1024)
def link_header(url: str) -> str:
    return f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'


def json_response(
    data: Any,
    rc: RequestContext,
    base_url: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Answer with `data` (an object or an array of objects) in the negotiated media type."""
    out_headers = dict(headers or {})
    if rc.applied:
        out_headers["Preference-Applied"] = rc.applied
    if rc.accept == JSON_LD:
        context = rc.context if rc.context is not None else CORE_CONTEXT_URL
        if isinstance(data, list):
            data = [_with_context(item, context) for item in data]
        elif isinstance(data, dict):
            data = _with_context(data, context)
        media: str = JSON_LD
    else:
        context_link = link_header(context_url(rc.context, base_url))
        paging = out_headers.get("Link")  # rel="prev"/"next" links stay beside the context's
        out_headers["Link"] = f"{context_link}, {paging}" if paging else context_link
        media = JSON
        if rc.accept == GEO_JSON:  # a Feature(Collection) carries its @context (clause 4.5.16)
            media = GEO_JSON  # unless `Prefer: body=json` has it in the Link only (6.3.6)
            if isinstance(data, dict) and "body=json" not in rc.applied:
                data = _with_context(
                    data, rc.context if rc.context is not None else CORE_CONTEXT_URL
                )
    return Response(orjson.dumps(data), status_code=status, media_type=media, headers=out_headers)


def json_list_response(
    rendered: list[bytes], rc: RequestContext, base_url: str, *, headers: dict[str, str]
) -> Response:
    """`json_response` of a list of objects already encoded (not GeoJSON): the same bytes."""
    out_headers = dict(headers)
    if rc.applied:
        out_headers["Preference-Applied"] = rc.applied
    if rc.accept == JSON_LD:
        context = rc.context if rc.context is not None else CORE_CONTEXT_URL
        rendered = [with_context(r, context) for r in rendered]
        media: str = JSON_LD
    else:
        context_link = link_header(context_url(rc.context, base_url))
        paging = out_headers.get("Link")
        out_headers["Link"] = f"{context_link}, {paging}" if paging else context_link
        media = JSON
    body = b"[" + b",".join(rendered) + b"]"
    return Response(body, media_type=media, headers=out_headers)


def plain_json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON, headers=headers)


def _with_context(item: Any, context: Any) -> Any:
    if isinstance(item, dict):
        return {**item, "@context": context}
    return item


def no_content() -> Response:
    return Response(status_code=204)
