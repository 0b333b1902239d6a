"""Handlers of /ngsi-ld/v1/subscriptions (clauses 6.10, 6.11)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import params
from dalgu.api.contexts import implicit_context
from dalgu.api.edge import read_body, read_context, runtime, uri_param
from dalgu.api.respond import json_response, no_content
from dalgu.broker.model import is_uri
from dalgu.errors import BadRequestData, OperationNotSupported
from dalgu.subscriptions.model import parse_subscription, render_subscription
from dalgu.subscriptions.service import SubscriptionService

PATH = "/ngsi-ld/v1/subscriptions/"


def _service(request: Request) -> SubscriptionService:
    service = runtime(request).subscriptions
    if service is None:
        raise OperationNotSupported("this store does not support subscriptions yet")
    return service


def _id(request: Request) -> str:
    return uri_param(request, "subscription_id", "subscription id")


async def create_subscription(request: Request) -> Response:
    rc, body = await read_body(request)
    doc = parse_subscription(body, rc.terms, rc.context)
    await notification_context(request, rc.context, doc)
    sub_id = await _service(request).create(rc.tenant, doc)
    return Response(status_code=201, headers={"Location": PATH + quote(sub_id, safe=":")})


async def notification_context(request: Request, context: Any, doc: dict[str, Any]) -> None:
    """Check a subscription's `jsonldContext` (503 if unreachable), or give it one: an inline
    @context (or several) of the request is kept as an ImplicitlyCreated context the
    subscription refers to (clause 5.13); notifications name it and compact with it."""
    if "jsonldContext" in doc:
        if not is_uri(doc["jsonldContext"]):
            raise BadRequestData("jsonldContext must be a URI")
        await runtime(request).resolver.resolve(doc["jsonldContext"])
    elif context is not None and not one_url(context):
        doc["jsonldContext"] = await implicit_context(runtime(request), context)


def one_url(context: Any) -> bool:
    """A single URL (also as a list of one): notifications name it as it is."""
    return isinstance(context, str) or (
        isinstance(context, list) and len(context) == 1 and isinstance(context[0], str)
    )


async def query_subscriptions(request: Request) -> Response:
    rc = await read_context(request)
    rt = runtime(request)
    limit, offset = params.page(request.query_params, rt.settings)
    docs, total = await _service(request).query(rc.tenant, limit, offset)
    headers = {}
    if params.wants_count(request.query_params):
        headers["NGSILD-Results-Count"] = str(total)
    links = page_links(request, limit, offset, total)
    if links:
        headers["Link"] = links
    sys_attrs = "sysAttrs" in params.options(request.query_params)
    data = [render_subscription(d, rc.terms, sys_attrs=sys_attrs) for d in docs]
    return json_response(data, rc, rt.settings.base_url, headers=headers)


def page_links(request: Request, limit: int, offset: int, total: int) -> str:
    """Link headers to the previous and next pages (clause 5.5.9), as the suite writes them."""
    links = []
    base = dict(request.query_params)
    path = request.url.path
    if offset > 0 and limit > 0:  # a limit=0 count is no page: its prev would be itself
        prev = {**base, "limit": str(limit), "offset": str(max(0, offset - limit))}
        links.append(f'<{path}?{urlencode(prev)}>;rel="prev";type="application/ld+json"')
    if limit > 0 and offset + limit < total:
        nxt = {**base, "limit": str(limit), "offset": str(offset + limit)}
        links.append(f'<{path}?{urlencode(nxt)}>;rel="next";type="application/ld+json"')
    return ",".join(links)


async def retrieve_subscription(request: Request) -> Response:
    sub_id = _id(request)
    rc = await read_context(request)
    doc = await _service(request).retrieve(rc.tenant, sub_id)
    sys_attrs = "sysAttrs" in params.options(request.query_params)
    rendered = render_subscription(doc, rc.terms, sys_attrs=sys_attrs)
    return json_response(rendered, rc, runtime(request).settings.base_url)


async def update_subscription(request: Request) -> Response:
    sub_id = _id(request)
    rc, body = await read_body(request, merge_patch=True)
    if isinstance(body, dict) and body.get("id") not in (None, sub_id):
        raise BadRequestData("the id of a subscription cannot be changed")
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "id"}
    fragment = parse_subscription(body, rc.terms, rc.context, partial=True)
    await _service(request).update(rc.tenant, sub_id, fragment)
    return no_content()


async def delete_subscription(request: Request) -> Response:
    sub_id = _id(request)
    rc = await read_context(request)
    await _service(request).delete(rc.tenant, sub_id)
    return no_content()
