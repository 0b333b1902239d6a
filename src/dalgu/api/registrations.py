"""Handlers of /ngsi-ld/v1/csourceRegistrations (clauses 6.8, 6.9)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import params
from dalgu.api.edge import read_body, read_context, runtime, uri_param
from dalgu.api.respond import json_response, no_content
from dalgu.api.subscriptions import page_links
from dalgu.broker.model import is_datetime, is_uri
from dalgu.errors import BadRequestData, OperationNotSupported
from dalgu.ldcontext import TermMap
from dalgu.query.ast import QExpr, has_linked, map_names, map_type_names
from dalgu.query.geo import parse_geoquery
from dalgu.query.q import parse_q
from dalgu.query.regex import compile_pattern
from dalgu.query.scope import parse_scope_query
from dalgu.query.typesel import parse_type_selection
from dalgu.registrations.discovery import RegistrationQuery, TemporalFilter, q_attributes
from dalgu.registrations.model import parse_registration, render_registration
from dalgu.registrations.service import RegistrationService

PATH = "/ngsi-ld/v1/csourceRegistrations/"
_TIME_PROPERTIES = ("observedAt", "createdAt", "modifiedAt", "deletedAt")


def _service(request: Request) -> RegistrationService:
    service = runtime(request).registrations
    if service is None:
        raise OperationNotSupported("this store does not support context source registrations")
    return service


def _id(request: Request) -> str:
    return uri_param(request, "registration_id", "registration id")


async def create_registration(request: Request) -> Response:
    rc, body = await read_body(request)
    doc = parse_registration(body, rc.terms)
    registration_id = await _service(request).create(rc.tenant, doc)
    return Response(status_code=201, headers={"Location": PATH + quote(registration_id, safe=":")})


async def retrieve_registration(request: Request) -> Response:
    registration_id = _id(request)
    rc = await read_context(request)
    service = _service(request)
    (doc,) = await service.with_status(
        rc.tenant, [await service.retrieve(rc.tenant, registration_id)]
    )
    sys_attrs = "sysAttrs" in params.options(request.query_params)
    rendered = render_registration(doc, rc.terms, sys_attrs=sys_attrs)
    return json_response(rendered, rc, runtime(request).settings.base_url)


async def update_registration(request: Request) -> Response:
    registration_id = _id(request)
    rc, body = await read_body(request, merge_patch=True, an_object=True)
    if body.get("id") not in (None, registration_id):
        raise BadRequestData("the id of a registration cannot be changed")
    fragment = parse_registration(
        {k: v for k, v in body.items() if k != "id"}, rc.terms, partial=True
    )
    await _service(request).update(rc.tenant, registration_id, fragment)
    return no_content()


async def delete_registration(request: Request) -> Response:
    registration_id = _id(request)
    rc = await read_context(request)
    await _service(request).delete(rc.tenant, registration_id)
    return no_content()


async def query_registrations(request: Request) -> Response:
    rc = await read_context(request)
    rt = runtime(request)
    query = registration_query(request.query_params, rc.terms)
    limit, offset = params.page(request.query_params, rt.settings)
    service = _service(request)
    docs, total = await service.query(rc.tenant, query, rc.terms.expand, limit, offset)
    docs = await service.with_status(rc.tenant, docs)
    headers = {}
    if params.wants_count(request.query_params):
        headers["NGSILD-Results-Count"] = str(total)
    links = page_links(request, limit, offset, total)
    if links:
        headers["Link"] = links
    sys_attrs = "sysAttrs" in params.options(request.query_params)
    data = [render_registration(d, rc.terms, sys_attrs=sys_attrs) for d in docs]
    return json_response(data, rc, rt.settings.base_url, headers=headers)


def registration_query(query_params: Mapping[str, str], terms: TermMap) -> RegistrationQuery:
    """A RegistrationQuery from GET /csourceRegistrations parameters (clause 6.8.3.2)."""
    ids = tuple(params.names(query_params, "id"))
    type_text = query_params.get("type")
    attrs = params.names(query_params, "attrs")
    q_text = query_params.get("q")
    georel = query_params.get("georel")
    if not (type_text or attrs or q_text or georel):
        raise BadRequestData(
            "too wide a query: give at least one of type, attrs, q or a geo-query (clause 5.10.2.4)"
        )
    types = map_type_names(parse_type_selection(type_text), terms.expand) if type_text else None
    q = map_names(parse_q(q_text), terms.expand) if q_text else None
    wanted = {terms.expand(a) for a in attrs}
    if q is not None:
        wanted |= q_attributes(q)
    geo = None
    if georel is not None or query_params.get("geometry") is not None:
        coordinates = query_params.get("coordinates")
        geometry = query_params.get("geometry")
        if georel is None or geometry is None or coordinates is None:
            raise BadRequestData("a geo-query needs georel, geometry and coordinates")
        geo = parse_geoquery(georel, geometry, coordinates, query_params.get("geoproperty"))
        geo = replace(geo, geoproperty=terms.expand(geo.geoproperty))
        wanted.add(geo.geoproperty)
    id_pattern = query_params.get("idPattern")
    if id_pattern is not None:
        compile_pattern(id_pattern, "idPattern")
    csf_text = query_params.get("csf")
    scope_text = query_params.get("scopeQ")
    return RegistrationQuery(
        ids=ids,
        id_pattern=id_pattern,
        types=types,
        attrs=tuple(sorted(wanted)),
        csf=_csf(csf_text, terms) if csf_text else None,
        geo=geo,
        temporal=temporal_filter(query_params),
        scope=parse_scope_query(scope_text) if scope_text else None,
        dataset_ids=_dataset_ids(query_params),
    )


def _dataset_ids(query_params: Mapping[str, str]) -> frozenset[str]:
    raw = query_params.get("datasetId")
    if raw is None:
        return frozenset()
    values = [v.strip() for v in raw.split(",")]
    if not all(v == "@none" or is_uri(v) for v in values):
        raise BadRequestData("datasetId must list URIs (or @none for the default instance)")
    return frozenset(values)


def temporal_filter(query_params: Mapping[str, str]) -> TemporalFilter | None:
    """timerel, timeAt, endTimeAt and timeproperty (clause 4.11), checked."""
    timerel = query_params.get("timerel")
    time_at = query_params.get("timeAt")
    end_time_at = query_params.get("endTimeAt")
    timeproperty = query_params.get("timeproperty") or "observedAt"
    if timeproperty not in _TIME_PROPERTIES:
        raise BadRequestData(f"timeproperty must be one of {', '.join(_TIME_PROPERTIES)}")
    if timerel is None:
        if time_at is not None or end_time_at is not None:
            raise BadRequestData("timeAt and endTimeAt need timerel")
        return None
    if timerel not in ("before", "after", "between"):
        raise BadRequestData(f"timerel must be before, after or between, not {timerel!r}")
    if time_at is None or not is_datetime(time_at):
        raise BadRequestData("timerel needs a timeAt DateTime")
    if timerel == "between":
        if end_time_at is None or not is_datetime(end_time_at):
            raise BadRequestData("timerel=between needs an endTimeAt DateTime")
    elif end_time_at is not None:
        raise BadRequestData("endTimeAt goes with timerel=between only")
    return TemporalFilter(
        timerel=timerel,
        time_at=time_at,
        end_time_at=end_time_at,
        management=timeproperty != "observedAt",
    )


def _csf(text: str, terms: TermMap) -> QExpr:
    """A `csf` filter: q over registrations' own properties, which link to no entity."""
    expr = parse_q(text)
    if has_linked(expr):
        raise OperationNotSupported("csf: a registration has no linked entities")
    return map_names(expr, terms.expand)
