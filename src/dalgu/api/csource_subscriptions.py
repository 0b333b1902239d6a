"""Handlers of /ngsi-ld/v1/csourceSubscriptions (clauses 6.10, 6.11 for context source
registration subscriptions, 5.11)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import params
from dalgu.api.edge import read_body, read_context, runtime, uri_param
from dalgu.api.respond import json_response, no_content
from dalgu.api.subscriptions import notification_context, page_links
from dalgu.errors import BadRequestData, OperationNotSupported
from dalgu.registrations.subscriptions import (
    CSourceSubscriptionService,
    parse_csource_subscription,
    render_csource_subscription,
)

PATH = "/ngsi-ld/v1/csourceSubscriptions/"


def _service(request: Request) -> CSourceSubscriptionService:
    service = runtime(request).csource_subscriptions
    if service is None:
        raise OperationNotSupported("this store does not support csource subscriptions")
    return service


def _id(request: Request) -> str:
    return uri_param(request, "subscription_id", "subscription id")


async def create_csource_subscription(request: Request) -> Response:
    rc, body = await read_body(request)
    doc = parse_csource_subscription(body, rc.terms, rc.context)
    await notification_context(request, rc.context, doc)
    sub_id = await _service(request).create(rc.tenant, doc)
    return Response(status_code=201, headers={"Location": PATH + quote(sub_id, safe=":")})


async def query_csource_subscriptions(request: Request) -> Response:
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
    data = [render_csource_subscription(d, rc.terms, sys_attrs=sys_attrs) for d in docs]
    return json_response(data, rc, rt.settings.base_url, headers=headers)


async def retrieve_csource_subscription(request: Request) -> Response:
    sub_id = _id(request)
    rc = await read_context(request)
    doc = await _service(request).retrieve(rc.tenant, sub_id)
    sys_attrs = "sysAttrs" in params.options(request.query_params)
    rendered = render_csource_subscription(doc, rc.terms, sys_attrs=sys_attrs)
    return json_response(rendered, rc, runtime(request).settings.base_url)


async def update_csource_subscription(request: Request) -> Response:
    sub_id = _id(request)
    rc, body = await read_body(request, merge_patch=True, an_object=True)
    if body.get("id") not in (None, sub_id):
        raise BadRequestData("the id of a subscription cannot be changed")
    fragment = parse_csource_subscription(
        {k: v for k, v in body.items() if k != "id"}, rc.terms, rc.context, partial=True
    )
    await _service(request).update(rc.tenant, sub_id, fragment)
    return no_content()


async def delete_csource_subscription(request: Request) -> Response:
    sub_id = _id(request)
    rc = await read_context(request)
    await _service(request).delete(rc.tenant, sub_id)
    return no_content()
