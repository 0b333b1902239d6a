"""Handlers of /ngsi-ld/v1/temporal (clauses 6.18–6.22, 6.24)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import params
from dalgu.api.attribute_paths import attribute_param
from dalgu.api.batch import check_query, ordering_params
from dalgu.api.contexts import linked
from dalgu.api.edge import entity_id_param, read_body, read_context, runtime
from dalgu.api.negotiation import RequestContext
from dalgu.api.paging import page_links
from dalgu.api.respond import json_response, no_content
from dalgu.broker.model import VALUE_MEMBER, is_uri, now_iso
from dalgu.broker.parse import attribute_iri, parse_instance, parse_scopes, parse_types
from dalgu.errors import BadRequestData, InvalidRequest, OperationNotSupported, ResourceNotFound
from dalgu.ldcontext import TermMap
from dalgu.store.history import parse_instance_id
from dalgu.temporal.query import temporal_query
from dalgu.temporal.render import TemporalFormat, TemporalView, render_temporal
from dalgu.temporal.service import TemporalPage, TemporalService

PATH = "/ngsi-ld/v1/temporal/entities/"


def _service(request: Request) -> TemporalService:
    service = runtime(request).temporal
    if service is None:
        raise OperationNotSupported("this store does not keep temporal history")
    return service


_TEMPORAL_OPTIONS = {
    "temporalValues",
    "aggregatedValues",
    "sysAttrs",
    "simplified",
    "keyValues",
    "normalized",
    "concise",
    "count",  # as count=true (earlier NGSI-LD versions' form)
    "",
}
_TEMPORAL_FORMATS: dict[str, TemporalFormat] = {
    "temporalValues": "temporalValues",
    "aggregatedValues": "aggregatedValues",
    "simplified": "temporalValues",
    "keyValues": "temporalValues",
    "normalized": "normalized",
    "concise": "normalized",
}


def _view(query_params: Any, terms: TermMap, timeproperty: str) -> TemporalView:
    opts = {o.strip() for o in str(query_params.get("options", "")).split(",")}
    if not opts <= _TEMPORAL_OPTIONS:
        raise InvalidRequest(f"unknown options: {', '.join(sorted(opts - _TEMPORAL_OPTIONS))}")
    fmt = query_params.get("format")
    if fmt is not None and fmt not in _TEMPORAL_FORMATS:
        raise InvalidRequest(f"unknown format {fmt!r}")
    pick = params.projection(query_params, "pick")
    omit = params.projection(query_params, "omit")
    if pick and omit:
        raise BadRequestData("pick and omit cannot be used together")
    if query_params.get("attrs") and (pick or omit):
        raise BadRequestData("attrs cannot be combined with pick or omit")
    chosen: TemporalFormat = "normalized"
    if fmt is not None:  # format takes precedence over options (clause 6.3.20)
        chosen = _TEMPORAL_FORMATS[fmt]
    elif "aggregatedValues" in opts:
        chosen = "aggregatedValues"
    elif opts & {"temporalValues", "simplified", "keyValues"}:
        chosen = "temporalValues"

    def member(name: str) -> str:
        return name if name in ("id", "type", "scope") else terms.expand(name)

    return TemporalView(
        format=chosen,
        sys_attrs="sysAttrs" in opts,
        timeproperty=str(query_params.get("timeproperty") or "observedAt"),
        pick=frozenset(member(n) for n in pick) if pick else None,
        omit=frozenset(member(n) for n in omit),
        lang=str(query_params["lang"]) if query_params.get("lang") else None,
    )


def _page_headers(page: TemporalPage, count: int | None = None) -> tuple[int, dict[str, str]]:
    headers = {} if count is None else {"NGSILD-Results-Count": str(count)}
    if page.range is None:
        return 200, headers
    start, end, size = page.range
    headers["Content-Range"] = f"date-time {start}-{end}/{size}"
    return 206, headers


async def _answer(
    request: Request, rc: RequestContext, query_params: Any, *, entity_id: str | None = None
) -> Response:
    rt = runtime(request)
    view = _view(query_params, rc.terms, str(query_params.get("timeproperty") or "observedAt"))
    limit, offset = params.page(query_params, rt.settings)
    merged = dict(query_params)
    if entity_id is not None:
        merged["id"] = entity_id
    query = temporal_query(
        merged,
        rc.terms,
        limit=limit,
        offset=offset,
        aggregated=view.format == "aggregatedValues",
        require_filter=entity_id is None,
        instance_limit=rt.settings.temporal_instance_limit,
    )
    if entity_id is not None:
        page = await _service(request).retrieve(rc.tenant, entity_id, query)
        rendered = render_temporal(page.entities[0], rc.terms, view)
        if not rendered:
            raise ResourceNotFound(f"pick/omit leaves nothing of {entity_id}")
        status, headers = _page_headers(page)
        return json_response(rendered, rc, rt.settings.base_url, status=status, headers=headers)
    if params.wants_count(query_params):
        query = replace(query, count=True)
    page = await _service(request).query(rc.tenant, query)
    status, headers = _page_headers(page, page.count)
    # a POST query's pointers carry its URL's parameters: the client posts the same body
    links = page_links(request, query.limit, query.offset, page.more)
    if links:
        headers["Link"] = links
    data = [render_temporal(e, rc.terms, view) for e in page.entities]
    return json_response(data, rc, rt.settings.base_url, status=status, headers=headers)


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
    check_query(body)
    merged: dict[str, Any] = dict(request.query_params)
    temporal = body.get("temporalQ")
    if not isinstance(temporal, dict):
        # clause 5.7.4.4: "If a temporal query is not provided then an error of type
        # BadRequestData shall be raised" (as GET /temporal/entities without timerel)
        raise BadRequestData("a temporal query needs temporalQ, an object (timerel or lastN)")
    if temporal.get("timerel") is None and temporal.get("lastN") is None:
        raise BadRequestData("a temporal query needs temporalQ.timerel (or lastN)")
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
    for key in ("attrs", "q", "datasetId", "pick", "omit", "lang", "local"):
        if key in body:
            merged[key] = body[key]
    geo = body.get("geoQ")
    if isinstance(geo, dict):
        for key in ("georel", "geometry", "coordinates", "geoproperty"):
            if key in geo:
                merged[key] = geo[key]
    merged.update(ordering_params(body))
    return await _answer(request, await linked(request, rc), merged)


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
    scope = parse_scopes(body["scope"]) if body.get("scope") is not None else []
    created = await _service(request).upsert(
        rc.tenant, body["id"], types, _temporal_attrs(body, rc), scope
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
    attr = attribute_iri(attribute_param(request), rc.terms)
    await _service(request).delete(
        rc.tenant,
        entity_id,
        attr,
        dataset_id=request.query_params.get("datasetId"),
        delete_all=params.flag(request.query_params, "deleteAll"),
    )
    return no_content()


def _one_instance(body: Any, name: str) -> Any:
    """The instance of a Modify Attribute Instance fragment (clause 5.6.14.3): the attribute
    of the path "contained by an Array of exactly one item" (or alone), or the instance
    itself; a fragment of another attribute, or of several instances, is a 400."""
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    members = {k: v for k, v in body.items() if k != "@context"}
    if name not in members:
        if "type" in members or any(k in members for k in VALUE_MEMBER.values()):
            return members  # the instance itself
        raise BadRequestData(f"the fragment holds no instance of {name!r}")
    if len(members) > 1:
        raise BadRequestData(f"the fragment holds attributes other than {name!r}")
    fragment = members[name]
    if isinstance(fragment, list):
        if len(fragment) != 1:
            raise BadRequestData("the fragment holds exactly one instance (an array of one)")
        fragment = fragment[0]
    return fragment


async def modify_instance(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc, body = await read_body(request, merge_patch=True)  # clause 6.3.4, as every PATCH
    attr = attribute_iri(attribute_param(request), rc.terms)
    fragment = _one_instance(body, attribute_param(request))
    instance = parse_instance(attr, fragment, rc.terms, now_iso())
    _check_instance_id(request.path_params["instance_id"])
    await _service(request).replace_instance(
        rc.tenant, entity_id, attr, request.path_params["instance_id"], instance
    )
    return no_content()


async def delete_instance(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc = await read_context(request)
    attr = attribute_iri(attribute_param(request), rc.terms)
    _check_instance_id(request.path_params["instance_id"])
    await _service(request).delete(
        rc.tenant, entity_id, attr, instance_id=request.path_params["instance_id"]
    )
    return no_content()


def _check_instance_id(text: str) -> None:
    if not is_uri(text):
        raise BadRequestData(f"instance id {text!r} is not a URI")
    if parse_instance_id(text) is None:
        raise ResourceNotFound(f"no instance {text}")


async def missing_attribute(request: Request) -> Response:
    raise BadRequestData("the attribute name is missing from the path")
