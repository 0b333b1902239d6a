"""Handlers of /ngsi-ld/v1/entityOperations (clause 6.14–6.18, 6.23, 6.31)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import distributed, params
from dalgu.api.contexts import linked
from dalgu.api.edge import read_body, runtime
from dalgu.api.entities import kept_renderings, query_page, render_list
from dalgu.api.negotiation import JSON_LD, RequestContext
from dalgu.api.paging import full_page, page_headers
from dalgu.api.problem import problem_body
from dalgu.api.respond import no_content, plain_json
from dalgu.broker.model import is_uri, now_iso
from dalgu.broker.nulls import refuse_nulls
from dalgu.broker.parse import parse_entity
from dalgu.broker.service import BatchItem, BatchResult
from dalgu.errors import BadRequestData, DalguError
from dalgu.federation import reads
from dalgu.federation.batches import BatchItems, distribute_batch


async def _items(
    request: Request,
    rc: RequestContext,
    body: Any,
    *,
    partial: bool = False,
    merging: bool = False,
    deleting: bool = False,
) -> list[BatchItem]:
    check_array(body)
    resolver = runtime(request).resolver
    now = now_iso()
    items: list[BatchItem] = []
    json_ld = request.headers.get("content-type", "").startswith(JSON_LD)
    for position, raw in enumerate(body):
        entity_id = raw.get("id", raw.get("@id")) if isinstance(raw, dict) else None
        try:
            terms = rc.terms
            if isinstance(raw, dict):
                if json_ld and "@context" not in raw:
                    raise BadRequestData("an application/ld+json entity must carry an @context")
                if not json_ld and "@context" in raw:
                    raise BadRequestData(
                        "an application/json entity must not carry an @context; use a Link"
                    )
                if json_ld:
                    terms = await resolver.resolve(raw["@context"])
            entity = parse_entity(raw, terms, now, require_type=not partial, merging=merging)
            if not merging:  # create, upsert and update (append) take no Null (clause 5.5.4);
                # an upsert in update mode updates an entity as Update Attributes does, whose
                # Null deletes (clause 5.6.8.4: "the behaviour defined by clause 5.6.2")
                refuse_nulls(entity, deletes=deleting)
            items.append(entity)
        except DalguError as error:
            error.extra["entity_id"] = item_name(entity_id, position)
            items.append(error)
    return items


def check_array(body: Any) -> None:
    """A batch's input array: empty, or holding a null item, it is refused whole and nothing
    is written (clauses 5.6.7.4, 5.6.8.4, 5.6.9.4; merge and delete alike)."""
    if not isinstance(body, list):
        raise BadRequestData("a batch operation takes a JSON array")
    if not body:
        raise BadRequestData("a batch operation needs at least one entity")
    if any(item is None for item in body):
        position = body.index(None)
        raise BadRequestData(f"item {position} of the batch array is null: nothing was written")


#: what names a batch item with no id that is a URI in a BatchEntityError (clause 5.2.17
#: makes `entityId` a URI of cardinality 1): its position in the request array, from 0
ITEM_URI = "urn:dalgu:batch-item:"


def item_name(entity_id: Any, position: int) -> str:
    """The `entityId` of a failed batch item: its id, else its position as a URI."""
    return entity_id if is_uri(entity_id) else f"{ITEM_URI}{position}"


def _result(result: BatchResult) -> Response:
    return plain_json(
        {"success": result.success, "errors": [_error(i, e) for i, e in result.errors]},
        status=207,
    )


def _error(entity_id: str | None, error: DalguError) -> dict[str, Any]:
    """A BatchEntityError (clause 5.2.17): a context source's names its registration."""
    item: dict[str, Any] = {
        "entityId": entity_id or f"{ITEM_URI}unknown",
        "error": problem_body(error),
    }
    if "registrationId" in error.extra:
        item["registrationId"] = error.extra["registrationId"]
    return item


async def _distributed(
    request: Request,
    rc: RequestContext,
    body: Any,
    operation: str,
    path: str,
    local: Callable[[list[Any]], Awaitable[BatchResult]],
) -> BatchResult:
    """The batch across context sources when the tenant has registrations, else here."""
    plan = await distributed.batch_plan(request, rc) if isinstance(body, list) and body else None
    if plan is None:
        return await local(body)
    rt = runtime(request)

    async def types_of(entity_id: str) -> list[str] | None:
        return await rt.service.types_of(rc.tenant, entity_id)

    items = BatchItems(rc.tenant, rc.terms, rt.resolver.resolve, types_of)
    given = request.query_params.multi_items()
    return await distribute_batch(plan, items, operation, path, given, body, local)


async def batch_create(request: Request) -> Response:
    rc, body = await read_body(request, batch=True)
    check_array(body)
    service = runtime(request).service

    async def here(raw: list[Any]) -> BatchResult:
        return await service.batch_create(rc.tenant, await _items(request, rc, raw))

    result = await _distributed(request, rc, body, "createBatch", "/entityOperations/create", here)
    if result.errors:
        return _result(result)
    return plain_json(result.success, status=201)


async def batch_upsert(request: Request) -> Response:
    rc, body = await read_body(request, batch=True)
    check_array(body)
    opts = params.options(request.query_params)
    if "update" in opts and "replace" in opts:
        raise BadRequestData("options update and replace contradict each other: give one")
    mode: Literal["replace", "update"] = "update" if "update" in opts else "replace"
    service = runtime(request).service

    async def here(raw: list[Any]) -> BatchResult:
        items = await _items(request, rc, raw, deleting=mode == "update")
        return await service.batch_upsert(rc.tenant, items, mode)

    result = await _distributed(request, rc, body, "upsertBatch", "/entityOperations/upsert", here)
    if result.errors:
        return _result(result)
    if result.created:
        return plain_json(result.created, status=201)
    return no_content()


async def batch_update(request: Request) -> Response:
    rc, body = await read_body(request, batch=True)
    check_array(body)
    overwrite = "noOverwrite" not in params.options(request.query_params)
    service = runtime(request).service

    async def here(raw: list[Any]) -> BatchResult:
        items = await _items(request, rc, raw, partial=True)
        return await service.batch_update(rc.tenant, items, overwrite=overwrite)

    result = await _distributed(request, rc, body, "updateBatch", "/entityOperations/update", here)
    return _result(result) if result.errors else no_content()


async def batch_merge(request: Request) -> Response:
    rc, body = await read_body(request, batch=True)
    check_array(body)
    service = runtime(request).service

    async def here(raw: list[Any]) -> BatchResult:
        items = await _items(request, rc, raw, partial=True, merging=True)
        return await service.batch_merge(rc.tenant, items)

    result = await _distributed(request, rc, body, "mergeBatch", "/entityOperations/merge", here)
    return _result(result) if result.errors else no_content()


async def batch_delete(request: Request) -> Response:
    rc, body = await read_body(request)
    if not isinstance(body, list) or not body:
        raise BadRequestData("batch delete takes a non-empty JSON array of entity ids")
    check_array(body)
    service = runtime(request).service

    async def here(raw: list[Any]) -> BatchResult:
        ids: list[str | DalguError] = []
        for position, item in enumerate(raw):
            if is_uri(item):
                ids.append(item)
            else:
                name = item_name(item, position)  # the value itself is in the detail
                ids.append(BadRequestData(f"entity id {item!r} is not a URI", entity_id=name))
        return await service.batch_delete(rc.tenant, ids)

    result = await _distributed(request, rc, body, "deleteBatch", "/entityOperations/delete", here)
    return _result(result) if result.errors else no_content()


async def query_post(request: Request) -> Response:
    """POST /entityOperations/query: the query in the body, paging in the URL (clause 6.23)."""
    rc, body = await read_body(request, geojson=True)
    check_query(body)
    rt = runtime(request)
    query_params: dict[str, Any] = dict(request.query_params)
    selectors = body.get("entities") or []
    if not isinstance(selectors, list):
        raise BadRequestData("entities must be an array of entity selectors")
    ids = [s["id"] for s in selectors if isinstance(s, dict) and "id" in s]
    types = [s["type"] for s in selectors if isinstance(s, dict) and "type" in s]
    patterns = [s["idPattern"] for s in selectors if isinstance(s, dict) and "idPattern" in s]
    if ids:
        query_params["id"] = ",".join(ids)
    if types:
        query_params["type"] = ",".join(types)
    if patterns:
        query_params["idPattern"] = "|".join(f"(?:{p})" for p in patterns)
    for key in ("q", "scopeQ", "lang", "join", "orderBy"):
        if key in body:
            query_params[key] = body[key]
    for key in ("expandValues", "jsonKeys"):  # comma-separated names (an array is taken too)
        if isinstance(body.get(key), str):
            query_params[key] = body[key]
        elif key in body:
            query_params[key] = ",".join(_strings(body[key], key))
    if "joinLevel" in body:
        query_params["joinLevel"] = str(body["joinLevel"])
    if "attrs" in body:
        query_params["attrs"] = ",".join(body["attrs"])
    query_params.update(_query_lists(body))
    geo = body.get("geoQ")
    if isinstance(geo, dict):
        query_params.update(
            georel=geo.get("georel"),
            geometry=geo.get("geometry"),
            coordinates=geo.get("coordinates"),
            geoproperty=geo.get("geoproperty"),
        )
    query_params = {k: v for k, v in query_params.items() if v is not None}
    query = params.entity_query(query_params, rc.terms, rt.settings)
    rep = params.representation(query_params, rc.terms)
    joined = params.join(query_params, rep, query.q)
    kinds = [rc.terms.expand(t) for t in types if isinstance(t, str)] or None
    routed = None
    if not params.local(query_params):  # `type: "*"` is local (Table 6.4.3.2-1)
        routed = await distributed.plan(request, rc, "queryBatch", None, kinds, reads=True)
    if routed is None:
        result, more = await query_page(request, rc, kept_renderings(query, rc, rep, joined))
    else:
        result = await reads.query_entities(
            routed,
            reads.batch_query_forward(rc.terms, body),
            rc.terms,
            query,
            lambda q: rt.service.query(rc.tenant, q),
        )
        more = full_page(query.limit, query.offset, len(result.documents), result.count)
    # the pointers carry the URL's parameters: the client posts the same Query to them
    headers = page_headers(request, query.limit, query.offset, more, result.count)
    return await render_list(request, await linked(request, rc), result, rep, headers, joined)


#: the members of a Query (clause 5.2.23), its JSON-LD `@context`, and what Dalgu takes
#: beside them: `orderBy` (as the URL parameter), `expandValues`, `jsonKeys`, `local`, and
#: `geometryProperty` (which the ETSI suite sends in the body)
QUERY_MEMBERS = frozenset(
    [
        *("type", "entities", "attrs", "pick", "omit", "q", "geoQ", "csf", "temporalQ"),
        *("scopeQ", "lang", "containedBy", "join", "joinLevel", "datasetId", "ordering"),
        *("@context", "orderBy", "expandValues", "jsonKeys", "local", "geometryProperty"),
    ]
)


def check_query(body: Any) -> None:
    """A Query object, without members it does not define: an unknown (a misspelt `geoq`) is
    a BadRequestData naming it, as an unknown URL parameter is an error, not a filter
    silently dropped."""
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData('the body must be a Query object ({"type": "Query", ...})')
    unknown = sorted(k for k in body if k not in QUERY_MEMBERS)
    if unknown:
        raise BadRequestData(f"unknown Query member(s): {', '.join(unknown)} (clause 5.2.23)")


def _query_lists(body: dict[str, Any]) -> dict[str, Any]:
    """Members of a Query (clause 5.2.23) that hold lists, as their URL parameters: `pick`,
    `omit`, `containedBy`, `datasetId`, and `ordering` (OrderingParams, clause 5.2.43)."""
    out: dict[str, Any] = {}
    for key in ("pick", "omit", "containedBy", "datasetId"):
        if key in body:
            out[key] = ",".join(_strings(body[key], key))
    out.update(ordering_params(body))
    return out


def ordering_params(body: dict[str, Any]) -> dict[str, Any]:
    """The `ordering` member of a Query (OrderingParams, clause 5.2.43) as URL parameters:
    `orderBy`, `collation`, `orderGeometry`, `orderFrom`."""
    out: dict[str, Any] = {}
    ordering = body.get("ordering")
    if ordering is not None:
        if not isinstance(ordering, dict) or "orderBy" not in ordering:
            raise BadRequestData("ordering must be an object with an orderBy array")
        out["orderBy"] = ",".join(_strings(ordering["orderBy"], "ordering.orderBy"))
        for member, key in (("collation", "collation"), ("geometry", "orderGeometry")):
            if member in ordering:
                out[key] = ordering[member]
        if "coordinates" in ordering:
            out["orderFrom"] = orjson.dumps(ordering["coordinates"]).decode()
    return out


def _strings(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise BadRequestData(f"{key} must be a non-empty array of strings")
    return value
