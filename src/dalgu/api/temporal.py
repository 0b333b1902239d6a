"""Handlers of /ngsi-ld/v1/temporal (clauses 6.18–6.22, 6.24)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import params
from dalgu.api.edge import entity_id_param, read_body, read_context, runtime
from dalgu.api.negotiation import RequestContext
from dalgu.api.respond import json_response, no_content
from dalgu.broker.model import is_uri, now_iso
from dalgu.broker.parse import attribute_iri, parse_instance, parse_types
from dalgu.errors import BadRequestData, InvalidRequest, OperationNotSupported
from dalgu.temporal.query import temporal_query
from dalgu.temporal.render import TemporalFormat, render_temporal
from dalgu.temporal.service import TemporalService

PATH = "/ngsi-ld/v1/temporal/entities/"


def _service(request: Request) -> TemporalService:
    service = runtime(request).temporal
    if service is None:
        raise OperationNotSupported("this store does not keep temporal history yet")
    return service


_TEMPORAL_OPTIONS = {
    "temporalValues",
    "aggregatedValues",
    "sysAttrs",
    "simplified",
    "keyValues",
    "normalized",
    "concise",
    "",
}
_TEMPORAL_FORMATS = {
    None,
    "temporalValues",
    "aggregatedValues",
    "simplified",
    "keyValues",
    "normalized",
    "concise",
}


def _format(query_params: Any) -> TemporalFormat:
    opts = set(str(query_params.get("options", "")).split(","))
    fmt = query_params.get("format")
    if not opts <= _TEMPORAL_OPTIONS:
        raise InvalidRequest(f"unknown options: {', '.join(sorted(opts - _TEMPORAL_OPTIONS))}")
    if fmt not in _TEMPORAL_FORMATS:
        raise BadRequestData(f"unknown format {fmt!r}")
    for key in ("pick", "omit"):
        params.projection(query_params, key)
    if query_params.get("pick") and query_params.get("omit"):
        raise BadRequestData("pick and omit cannot be used together")
    if query_params.get("attrs") and (query_params.get("pick") or query_params.get("omit")):
        raise BadRequestData("attrs cannot be combined with pick or omit")
    if "aggregatedValues" in opts or fmt == "aggregatedValues":
        return "aggregatedValues"
    if "temporalValues" in opts or fmt in ("temporalValues", "simplified"):
        return "temporalValues"
    return "normalized"


async def _answer(
    request: Request, rc: RequestContext, query_params: Any, *, entity_id: str | None = None
) -> Response:
    rt = runtime(request)
    fmt = _format(query_params)
    limit, offset = params.page(query_params, rt.settings)
    merged = dict(query_params)
    if entity_id is not None:
        merged["id"] = entity_id
    query = temporal_query(
        merged,
        rc.terms,
        limit=limit,
        offset=offset,
        aggregated=fmt == "aggregatedValues",
        require_filter=entity_id is None,
    )
    sys_attrs = "sysAttrs" in str(query_params.get("options", ""))
    if entity_id is not None:
        entity = await _service(request).retrieve(rc.tenant, entity_id, query)
        return json_response(
            render_temporal(entity, rc.terms, fmt, sys_attrs), rc, rt.settings.base_url
        )
    if params.flag(query_params, "count"):
        query = replace(query, count=True)
    found, count = await _service(request).query(rc.tenant, query)
    headers = {} if count is None else {"NGSILD-Results-Count": str(count)}
    data = [render_temporal(e, rc.terms, fmt, sys_attrs) for e in found]
    return json_response(data, rc, rt.settings.base_url, headers=headers)


async def query_temporal(request: Request) -> Response:
    rc = await read_context(request)
    if request.query_params.get("timerel") is None and request.query_params.get("lastN") is None:
        raise BadRequestData("a temporal query needs timerel (or lastN)")
    return await _answer(request, rc, request.query_params)


async def retrieve_temporal(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc = await read_context(request)
    return await _answer(request, rc, request.query_params, entity_id=entity_id)


async def query_temporal_post(request: Request) -> Response:
    rc, body = await read_body(request)
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData('the body must be a Query object ({"type": "Query", ...})')
    merged: dict[str, Any] = dict(request.query_params)
    temporal = body.get("temporalQ") or {}
    if not isinstance(temporal, dict):
        raise BadRequestData("temporalQ must be an object")
    merged.update({k: v for k, v in temporal.items() if v is not None})
    selectors = body.get("entities") or []
    if not isinstance(selectors, list):
        raise BadRequestData("entities must be an array of entity selectors")
    ids = [s["id"] for s in selectors if isinstance(s, dict) and "id" in s]
    types = [s["type"] for s in selectors if isinstance(s, dict) and "type" in s]
    if ids:
        merged["id"] = ",".join(ids)
    if types:
        merged["type"] = ",".join(types)
    if "attrs" in body:
        merged["attrs"] = body["attrs"]
    return await _answer(request, rc, merged)


def _temporal_attrs(body: dict[str, Any], rc: RequestContext) -> dict[str, list[Any]]:
    now = now_iso()
    attrs: dict[str, list[Any]] = {}
    for name, value in body.items():
        if name in ("id", "type", "@context", "scope", "createdAt", "modifiedAt"):
            continue
        iri = attribute_iri(name, rc.terms)
        values = value if isinstance(value, list) else [value]
        attrs[iri] = [parse_instance(iri, v, rc.terms, now) for v in values]
    return attrs


async def create_temporal(request: Request) -> Response:
    rc, body = await read_body(request)
    if not isinstance(body, dict) or not is_uri(body.get("id")):
        raise BadRequestData("a temporal entity needs an id that is a URI")
    types = parse_types(body.get("type"), rc.terms)
    created = await _service(request).create(
        rc.tenant, body["id"], types, _temporal_attrs(body, rc)
    )
    if created:
        return Response(status_code=201, headers={"Location": PATH + quote(body["id"], safe=":")})
    return no_content()


async def delete_temporal(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc = await read_context(request)
    await _service(request).delete(rc.tenant, entity_id)
    return no_content()


async def append_temporal(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc, body = await read_body(request)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    await _service(request).append(rc.tenant, entity_id, _temporal_attrs(body, rc))
    return no_content()


async def delete_temporal_attribute(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc = await read_context(request)
    attr = attribute_iri(request.path_params["attr"], rc.terms)
    await _service(request).delete(
        rc.tenant,
        entity_id,
        attr,
        dataset_id=request.query_params.get("datasetId"),
        delete_all=params.flag(request.query_params, "deleteAll"),
    )
    return no_content()


async def modify_instance(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc, body = await read_body(request)
    attr = attribute_iri(request.path_params["attr"], rc.terms)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    fragment = body.get(request.path_params["attr"], body)
    if isinstance(fragment, list):
        fragment = fragment[0] if fragment else {}
    instance = parse_instance(attr, fragment, rc.terms, now_iso())
    await _service(request).replace_instance(
        rc.tenant, entity_id, attr, request.path_params["instance_id"], instance
    )
    return no_content()


async def delete_instance(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc = await read_context(request)
    attr = attribute_iri(request.path_params["attr"], rc.terms)
    await _service(request).delete(
        rc.tenant, entity_id, attr, instance_id=request.path_params["instance_id"]
    )
    return no_content()
