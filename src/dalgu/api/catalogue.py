"""Handlers of /types and /attributes (clauses 6.25–6.28, 5.7.5–5.7.10)."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import distributed, params
from dalgu.api.edge import read_context, runtime
from dalgu.api.negotiation import RequestContext
from dalgu.api.respond import json_response
from dalgu.errors import ResourceNotFound
from dalgu.federation import catalogue
from dalgu.store.base import AttributeInfo, TypeInfo


async def _types(
    request: Request, rc: RequestContext, operation: str, path: str, wanted: str | None = None
) -> list[TypeInfo]:
    """This broker's entity types, with those of the context sources that claim the request."""
    rt = runtime(request)
    kinds = [wanted] if wanted is not None else None
    routed = await distributed.plan(request, rc, operation, None, kinds, reads=True)
    if routed is None:
        return await rt.service.types(rc.tenant)
    given = request.query_params.multi_items()
    return await catalogue.types(routed, rc.terms, path, given, lambda: rt.service.types(rc.tenant))


async def _attributes(
    request: Request, rc: RequestContext, operation: str, path: str
) -> list[AttributeInfo]:
    """This broker's attributes, with those of the context sources that claim the request."""
    rt = runtime(request)
    routed = await distributed.plan(request, rc, operation, None, None, reads=True)
    if routed is None:
        return await rt.service.attributes(rc.tenant)
    given = request.query_params.multi_items()
    return await catalogue.attributes(
        routed, rc.terms, path, given, lambda: rt.service.attributes(rc.tenant)
    )


async def list_types(request: Request) -> Response:
    rc = await read_context(request)
    rt = runtime(request)
    details = params.flag(request.query_params, "details")
    operation = "retrieveEntityTypeDetails" if details else "retrieveEntityTypes"
    types = await _types(request, rc, operation, "/types")
    if details:
        data: object = [
            {
                "id": t.type,
                "type": "EntityType",
                "typeName": rc.terms.compact(t.type),
                "attributeNames": sorted(rc.terms.compact(a) for a in t.attributes),
            }
            for t in types
        ]
    else:
        data = {
            "id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}",
            "type": "EntityTypeList",
            "typeList": [rc.terms.compact(t.type) for t in types],
        }
    return json_response(data, rc, rt.settings.base_url)


async def type_info(request: Request) -> Response:
    rc = await read_context(request)
    rt = runtime(request)
    wanted = rc.terms.expand(request.path_params["type"])
    path = "/types/" + quote(request.path_params["type"], safe=":")
    for info in await _types(request, rc, "retrieveEntityTypeInfo", path, wanted):
        if info.type == wanted:
            data = {
                "id": info.type,
                "type": "EntityTypeInfo",
                "typeName": rc.terms.compact(info.type),
                "entityCount": info.entity_count,
                "attributeDetails": [
                    {
                        "id": name,
                        "type": "Attribute",
                        "attributeName": rc.terms.compact(name),
                        "attributeTypes": sorted(kinds),
                    }
                    for name, kinds in sorted(info.attributes.items())
                ],
            }
            return json_response(data, rc, rt.settings.base_url)
    raise ResourceNotFound(f"no entity of type {wanted} exists")


async def list_attributes(request: Request) -> Response:
    rc = await read_context(request)
    rt = runtime(request)
    details = params.flag(request.query_params, "details")
    operation = "retrieveAttrTypeDetails" if details else "retrieveAttrTypes"
    attributes = await _attributes(request, rc, operation, "/attributes")
    if details:
        data: object = [_attribute(a, rc, full=False) for a in attributes]
    else:
        data = {
            "id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}",
            "type": "AttributeList",
            "attributeList": [rc.terms.compact(a.name) for a in attributes],
        }
    return json_response(data, rc, rt.settings.base_url)


async def attribute_info(request: Request) -> Response:
    rc = await read_context(request)
    rt = runtime(request)
    wanted = rc.terms.expand(request.path_params["attr"])
    path = "/attributes/" + quote(request.path_params["attr"], safe=":")
    for info in await _attributes(request, rc, "retrieveAttrTypeInfo", path):
        if info.name == wanted:
            return json_response(_attribute(info, rc, full=True), rc, rt.settings.base_url)
    raise ResourceNotFound(f"no attribute {wanted} exists")


def _attribute(info: AttributeInfo, rc: RequestContext, *, full: bool) -> dict[str, object]:
    """An Attribute (clause 5.2.28); the list of details leaves out the counts (clause 5.7.9)."""
    out: dict[str, object] = {
        "id": info.name,
        "type": "Attribute",
        "attributeName": rc.terms.compact(info.name),
    }
    if full:
        out["attributeCount"] = info.attribute_count
        out["attributeTypes"] = sorted(info.attribute_types)
    out["typeNames"] = sorted(rc.terms.compact(t) for t in info.type_names)
    return out
