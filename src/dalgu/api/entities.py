"""Handlers of /ngsi-ld/v1/entities and its attributes (clauses 6.4, 6.5, 6.6, 6.7)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import distributed, params
from dalgu.api.attribute_paths import attribute_param
from dalgu.api.edge import (
    QUERY_ENTITIES_PARAMETERS,
    RETRIEVE_ENTITY_PARAMETERS,
    entity_id_param,
    read_body,
    read_context,
    runtime,
)
from dalgu.api.negotiation import GEO_JSON, RequestContext
from dalgu.api.paging import full_page, page_headers
from dalgu.api.problem import refusal
from dalgu.api.respond import json_list_response, json_response, no_content, plain_json
from dalgu.broker.join import Join, render_flat, render_inline
from dalgu.broker.model import LOCATION, Entity, is_datetime, is_uri, now_iso
from dalgu.broker.mutations import UpdateResult
from dalgu.broker.nulls import refuse_null_instance, refuse_nulls
from dalgu.broker.parse import (
    attribute_iri,
    parse_attribute,
    parse_entity,
    parse_instance,
)
from dalgu.broker.render import (
    Representation,
    feature,
    feature_collection,
    render_entity,
)
from dalgu.broker.rendered import EMPTY, is_default_view
from dalgu.errors import AlreadyExists, BadRequestData, MethodNotAllowed, ResourceNotFound
from dalgu.federation import reads
from dalgu.federation.provision import has_attributes
from dalgu.query.ast import TypeExpr, map_type_names, type_holds
from dalgu.query.typesel import parse_type_selection
from dalgu.store.base import EntityQuery, QueryResult

ENTITIES = "/ngsi-ld/v1/entities/"


async def create_entity(request: Request) -> Response:
    rc, body = await read_body(request, an_object=True)
    entity = parse_entity(body, rc.terms, now_iso())
    refuse_nulls(entity)
    rt = runtime(request)
    location = {"Location": ENTITIES + quote(entity["id"], safe=":")}
    routed = await distributed.plan(request, rc, "createEntity", entity["id"], entity["type"])
    if routed is None:
        await rt.service.create(rc.tenant, entity)
        return Response(status_code=201, headers=location)

    async def here(part: dict[str, Any] | None) -> None:
        try:
            await rt.service.create(rc.tenant, parse_entity(part, rc.terms, now_iso()))
        except AlreadyExists:
            if has_attributes(part):
                raise  # else every attribute went to context sources: nothing to add here

    return await distributed.write(
        routed,
        rc,
        entity["id"],
        body,
        "POST",
        "/entities",
        here,
        lambda: Response(status_code=201, headers=location),
        local_needs_attributes=False,
    )


async def query_entities(request: Request) -> Response:
    rc = await read_context(request, geojson=True, known=QUERY_ENTITIES_PARAMETERS)
    rt = runtime(request)
    query_params = request.query_params
    query = params.entity_query(query_params, rc.terms, rt.settings)
    rep = params.representation(query_params, rc.terms)
    joined = params.join(query_params, rep, query.q)
    routed = await distributed.plan(
        request, rc, "queryEntity", None, entity_types(query_params, rc), reads=True
    )
    if routed is None:
        result, more = await query_page(request, rc, kept_renderings(query, rc, rep, joined))
    else:
        result = await reads.query_entities(
            routed,
            reads.query_forward(rc.terms, query_params.multi_items()),
            rc.terms,
            query,
            lambda q: rt.service.query(rc.tenant, q),
        )
        more = full_page(query.limit, query.offset, len(result.documents), result.count)
    headers = page_headers(request, query.limit, query.offset, more, result.count)
    return await render_list(request, rc, result, rep, headers, joined)


async def query_page(
    request: Request, rc: RequestContext, query: EntityQuery
) -> tuple[QueryResult, bool]:
    """A page of `query` here, and whether more matches follow it: one match past the page
    is read and dropped (clause 5.5.9: a last page links no `next`), not a second count."""
    service = runtime(request).service
    if query.limit == 0:
        return await service.query(rc.tenant, query), False
    result = await service.query(rc.tenant, replace(query, limit=query.limit + 1))
    if len(result.documents) <= query.limit:
        return result, False
    kept = None if result.renderings is None else result.renderings[: query.limit]
    return QueryResult(result.documents[: query.limit], result.count, kept), True


async def render_list(
    request: Request,
    rc: RequestContext,
    result: QueryResult,
    rep: Representation,
    headers: dict[str, str],
    joined: Join | None = None,
) -> Response:
    """The entities of `result`; a paging `Link` in `headers` is joined to the context's."""
    rt = runtime(request)
    base = rt.settings.base_url
    if joined is None and rc.accept != GEO_JSON:
        # each entity's bytes as the store keeps them (`kept_renderings`), or as rendered
        # before for this context and representation
        kept = result.renderings
        if kept is None:
            parts = rt.rendered.render(result.documents, rc.terms, rep)
        else:
            missing = [doc for doc, part in zip(result.documents, kept, strict=True) if not part]
            made = iter(rt.rendered.render(missing, rc.terms, rep))
            parts = [part or next(made) for part in kept]
        return json_list_response([p for p in parts if p != EMPTY], rc, base, headers=headers)
    entities = result.entities
    if joined is None:
        rendered = [render_entity(e, rc.terms, rep) for e in entities]
    else:
        known = await rt.service.linked(rc.tenant, entities, rep, joined)
        if joined.mode == "flat":
            rendered = render_flat(entities, known, rc.terms, rep, joined)
        else:
            rendered = [render_inline(e, known, rc.terms, rep, joined) for e in entities]
    rendered = [r for r in rendered if r]  # an entity a pick leaves empty is not listed
    if rc.accept == GEO_JSON:
        return json_response(_features(request, rc, rendered, rep), rc, base, headers=headers)
    return json_response(rendered, rc, base, headers=headers)


def kept_renderings(
    query: EntityQuery, rc: RequestContext, rep: Representation, joined: Join | None
) -> EntityQuery:
    """`query`, asking for the entities' kept renderings when `render_list` sends the page in
    exactly that rendering (core context only, normalized, no options, JSON)."""
    if joined is None and rc.accept != GEO_JSON and is_default_view(rc.terms, rep):
        return replace(query, rendered=True)
    return query


def _features(
    request: Request, rc: RequestContext, rendered: list[dict[str, Any]], rep: Representation
) -> dict[str, Any]:
    geometry = _geometry_attribute(request, rc)
    return feature_collection(feature(r, geometry, rep.format == "keyValues") for r in rendered)


def _geometry_attribute(request: Request, rc: RequestContext) -> str:
    name = request.query_params.get("geometryProperty")
    iri = rc.terms.expand(name) if name else LOCATION
    return rc.terms.compact(iri)


async def retrieve_entity(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc = await read_context(request, geojson=True, known=RETRIEVE_ENTITY_PARAMETERS)
    rt = runtime(request)
    rep = params.representation(request.query_params, rc.terms)
    joined = params.join(request.query_params, rep)
    routed = await distributed.plan(
        request, rc, "retrieveEntity", entity_id, entity_types(request.query_params, rc), reads=True
    )
    if routed is None:
        entity = await rt.service.retrieve(rc.tenant, entity_id, rep.attrs)
        _of_type(entity_id, entity.get("type"), _type_guard(request.query_params, rc))
    else:
        entity = await reads.read_entity(
            routed,
            rc.terms,
            entity_id,
            _path(entity_id),
            request.query_params.multi_items(),
            lambda: rt.service.retrieve(rc.tenant, entity_id, rep.attrs),
        )
    base = rt.settings.base_url
    if joined is not None and joined.mode == "flat":  # always an array (clause 4.5.23.3)
        known = await rt.service.linked(rc.tenant, [entity], rep, joined)
        flat = render_flat([entity], known, rc.terms, rep, joined)
        if _nothing_selected(flat[0], rep):
            raise ResourceNotFound(f"entity {entity_id} has nothing that pick or omit select")
        flat = [r for r in flat if r]
        if rc.accept == GEO_JSON:  # a FeatureCollection (clause 5.7.1.5)
            return json_response(_features(request, rc, flat, rep), rc, base)
        return json_response(flat, rc, base)
    if joined is not None:
        known = await rt.service.linked(rc.tenant, [entity], rep, joined)
        rendered = render_inline(entity, known, rc.terms, rep, joined)
    else:
        rendered = render_entity(entity, rc.terms, rep)
    if _nothing_selected(rendered, rep):
        raise ResourceNotFound(f"entity {entity_id} has nothing that attrs, pick or omit select")
    if rc.accept == GEO_JSON:
        geometry = _geometry_attribute(request, rc)
        rendered = feature(rendered, geometry, rep.format == "keyValues")
    return json_response(rendered, rc, base)


def entity_types(query_params: Any, rc: RequestContext) -> list[str] | None:
    """The entity types a `type` parameter names (IRIs), None without one. Only a plain list
    of names is read; a type expression matches registrations of any type."""
    given = query_params.get("type")
    if not given or any(c in given for c in ";|()"):
        return None
    return [rc.terms.expand(name) for name in given.split(",") if name]


def _type_guard(query_params: Any, rc: RequestContext) -> TypeExpr | None:
    """The entity types (a type selection) an operation on one entity is restricted to by its
    `type` parameter (clauses 5.6.x, 5.7.1: "no existing Entity whose id, and where specified
    type, is equivalent" is a ResourceNotFound); None without one."""
    given = query_params.get("type")
    if not given:
        return None
    return map_type_names(parse_type_selection(given), rc.terms.expand)


def _of_type(entity_id: str, types: list[str] | None, guard: TypeExpr | None) -> None:
    """404 unless the entity exists here with a type the guard selects."""
    if guard is not None and (types is None or not type_holds(guard, set(types))):
        raise ResourceNotFound(f"no entity {entity_id} of the types the type parameter selects")


async def _check_type(request: Request, rc: RequestContext, entity_id: str) -> None:
    """Before a write on one entity: its `type` parameter, when given, selects it."""
    guard = _type_guard(request.query_params, rc)
    if guard is not None:
        types = await runtime(request).service.types_of(rc.tenant, entity_id)
        _of_type(entity_id, types, guard)


_NOT_ATTRIBUTES = frozenset({"id", "type", "scope", "expiresAt", "createdAt", "modifiedAt"})


def _nothing_selected(rendered: dict[str, Any], rep: Representation) -> bool:
    """A projection that leaves nothing, or attrs of which the entity has none (clause 5.7.1)."""
    if not rendered:
        return True
    return bool(rep.attrs) and all(key in _NOT_ATTRIBUTES for key in rendered)


async def delete_entity(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc = await read_context(request)
    rt = runtime(request)
    routed = await distributed.plan(request, rc, "deleteEntity", entity_id, None)
    if routed is None:
        await _check_type(request, rc, entity_id)
        await rt.service.delete(rc.tenant, entity_id)
        return no_content()

    async def here(part: dict[str, Any] | None) -> None:
        await rt.service.delete(rc.tenant, entity_id)

    return await distributed.write(
        routed, rc, entity_id, None, "DELETE", _path(entity_id), here, no_content
    )


def _path(entity_id: str, *more: str) -> str:
    """The path of an entity (or below it) at a context source."""
    return "/entities/" + "/".join([quote(entity_id, safe=":"), *more])


async def replace_entity(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc, body = await read_body(request)
    _same_id(body, entity_id)
    entity = parse_entity(body, rc.terms, now_iso(), require_id=False)
    refuse_nulls(entity)
    entity["id"] = entity_id
    rt = runtime(request)
    routed = await distributed.plan(request, rc, "replaceEntity", entity_id, entity["type"])
    if routed is None:
        await _check_type(request, rc, entity_id)
        await rt.service.replace(rc.tenant, entity)
        return no_content()

    async def here(part: dict[str, Any] | None) -> None:
        local = parse_entity(part, rc.terms, now_iso(), require_id=False)
        local["id"] = entity_id
        await rt.service.replace(rc.tenant, local)

    return await distributed.write(
        routed,
        rc,
        entity_id,
        body,
        "PUT",
        _path(entity_id),
        here,
        no_content,
        local_needs_attributes=False,
    )


async def merge_entity(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc, body = await read_body(request, merge_patch=True)
    simplified = params.merge_simplified(request.query_params)
    fragment = _fragment(body, rc, entity_id, merging=True, simplified=simplified)
    lang = request.query_params.get("lang")
    observed_at = request.query_params.get("observedAt")
    if observed_at is not None and not is_datetime(observed_at):
        raise BadRequestData(f"observedAt {observed_at!r} is not a DateTime")
    rt = runtime(request)
    routed = await distributed.plan(request, rc, "mergeEntity", entity_id, None)
    if routed is None:
        await _check_type(request, rc, entity_id)
        await rt.service.merge(rc.tenant, entity_id, fragment, lang, observed_at)
        return no_content()

    async def here(part: dict[str, Any] | None) -> None:
        merged = _fragment(part, rc, entity_id, merging=True, simplified=simplified)
        await rt.service.merge(rc.tenant, entity_id, merged, lang, observed_at)

    return await distributed.write(
        routed, rc, entity_id, body, "PATCH", _path(entity_id), here, no_content
    )


def _same_id(body: Any, entity_id: str) -> None:
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    given = body.get("id", body.get("@id"))
    if given is not None and given != entity_id:
        raise BadRequestData(f"the body's id {given!r} differs from the URL's {entity_id!r}")


def _update_response(result: UpdateResult) -> Response:
    """204, or 207 with an UpdateResult (clause 5.2.18) naming attributes by their IRIs."""
    if not result.not_updated:
        return no_content()
    return plain_json(
        {
            "updated": result.updated,
            "notUpdated": [
                {"attributeName": a, "reason": reason} for a, reason in result.not_updated
            ],
        },
        status=207,
    )


def _all_updated(result: UpdateResult) -> None:
    """This broker's part of a distributed attribute update as one outcome: the attributes it
    did not update are its error (the plain path answers them in a 207 UpdateResult)."""
    if result.not_updated:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in result.not_updated)
        raise ResourceNotFound(f"attributes not updated here: {reasons}")


def _fragment(
    body: Any,
    rc: RequestContext,
    entity_id: str,
    *,
    merging: bool = False,
    patching: bool = False,
    simplified: bool = False,
) -> Entity:
    """An Entity Fragment: attributes plus, optionally, types to add and a scope. NGSI-LD
    Nulls delete in a merge's or a partial update's (`patching`) only (clause 5.5.4); a
    merge's body may be in the simplified representation (table 6.5.3.4-1)."""
    _same_id(body, entity_id)
    fragment = parse_entity(
        body,
        rc.terms,
        now_iso(),
        require_id=False,
        require_type=False,
        merging=merging,
        patch=patching,
        simplified=simplified,
    )
    if not merging:
        refuse_nulls(fragment, deletes=patching)
    return fragment


async def append_attributes(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc, body = await read_body(request)
    overwrite = "noOverwrite" not in params.options(request.query_params)
    attrs = _fragment(body, rc, entity_id)
    rt = runtime(request)
    routed = await distributed.plan(request, rc, "appendAttrs", entity_id, None)
    if routed is None:
        await _check_type(request, rc, entity_id)
        result = await rt.service.append_attributes(
            rc.tenant, entity_id, attrs, overwrite=overwrite
        )
        return _update_response(result)

    async def here(part: dict[str, Any] | None) -> None:
        fragment = _fragment(part, rc, entity_id)
        _all_updated(
            await rt.service.append_attributes(rc.tenant, entity_id, fragment, overwrite=overwrite)
        )

    query = None if overwrite else [("options", "noOverwrite")]
    return await distributed.write(
        routed,
        rc,
        entity_id,
        body,
        "POST",
        _path(entity_id, "attrs/"),
        here,
        no_content,
        query=query,
    )


async def update_attributes(request: Request) -> Response:
    entity_id = entity_id_param(request)
    # clause 6.3.4: on every PATCH, merge-patch+json is read as application/json
    rc, body = await read_body(request, merge_patch=True)
    attrs = _fragment(body, rc, entity_id, patching=True)
    rt = runtime(request)
    routed = await distributed.plan(request, rc, "updateEntity", entity_id, None)
    if routed is None:
        await _check_type(request, rc, entity_id)
        result = await rt.service.update_attributes(rc.tenant, entity_id, attrs)
        return _update_response(result)

    async def here(part: dict[str, Any] | None) -> None:
        fragment = _fragment(part, rc, entity_id, patching=True)
        _all_updated(await rt.service.update_attributes(rc.tenant, entity_id, fragment))

    return await distributed.write(
        routed, rc, entity_id, body, "PATCH", _path(entity_id, "attrs/"), here, no_content
    )


def _attribute_body(body: Any) -> dict[str, Any]:
    """An Attribute fragment; a JSON-LD body's @context is not a sub-attribute."""
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    return {k: v for k, v in body.items() if k != "@context"}


async def patch_attribute(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc, body = await read_body(request, merge_patch=True)
    attr = _target_attribute(request, rc)
    fragment = parse_instance(attr, _attribute_body(body), rc.terms, now_iso(), partial=True)
    refuse_null_instance(attr, fragment, deletes=True)
    for system in ("createdAt", "modifiedAt"):
        fragment.pop(system, None)
    rt = runtime(request)

    async def here() -> None:
        await rt.service.patch_attribute(rc.tenant, entity_id, attr, fragment)

    return await _attribute_write(request, rc, entity_id, attr, "updateAttrs", "PATCH", body, here)


async def replace_attribute(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc, body = await read_body(request)
    attr = _target_attribute(request, rc)
    if isinstance(body, dict):
        body = _attribute_body(body)
    instances = parse_attribute(attr, body, rc.terms, now_iso())
    refuse_nulls({attr: instances})
    rt = runtime(request)

    async def here() -> None:
        await rt.service.replace_attribute(rc.tenant, entity_id, attr, instances)

    return await _attribute_write(request, rc, entity_id, attr, "replaceAttrs", "PUT", body, here)


async def _attribute_write(
    request: Request,
    rc: RequestContext,
    entity_id: str,
    attr: str,
    operation: str,
    method: str,
    body: Any,
    here: Callable[[], Awaitable[None]],
    query: list[tuple[str, str]] | None = None,
) -> Response:
    """A write of one attribute: to the context sources that claim it, and here unless a
    proxied registration holds it (`here` does this broker's part); 204 when all went well."""
    routed = await distributed.plan(request, rc, operation, entity_id, None)
    if routed is not None:
        path = _path(entity_id, "attrs", attribute_param(request))
        answered = await distributed.attribute_write(
            routed, entity_id, attr, method, path, body, here, no_content, query=query
        )
        if answered is not None:
            return answered
    await _check_type(request, rc, entity_id)
    await here()
    return no_content()


def _target_attribute(request: Request, rc: RequestContext) -> str:
    name = attribute_param(request)
    if name == "scope":  # clause 5.6.4: the scope is not an attribute to patch or replace
        raise BadRequestData("scope is not an attribute; change it through /attrs")
    return attribute_iri(name, rc.terms)


async def delete_attribute(request: Request) -> Response:
    entity_id = entity_id_param(request)
    rc = await read_context(request)
    if attribute_param(request) == "scope":
        await _check_type(request, rc, entity_id)
        await runtime(request).service.delete_scope(rc.tenant, entity_id)
        return no_content()
    attr = attribute_iri(attribute_param(request), rc.terms)
    dataset_id = request.query_params.get("datasetId")
    if dataset_id not in (None, "@none") and not is_uri(dataset_id):  # 6.3.2 (prov-16)
        raise BadRequestData(f"datasetId {dataset_id!r} is not a URI")
    delete_all = params.flag(request.query_params, "deleteAll")
    rt = runtime(request)

    async def here() -> None:
        await rt.service.delete_attribute(
            rc.tenant, entity_id, attr, dataset_id=dataset_id, delete_all=delete_all
        )

    query = [(k, v) for k, v in request.query_params.multi_items() if k != "local"]
    return await _attribute_write(
        request, rc, entity_id, attr, "deleteAttrs", "DELETE", None, here, query or None
    )


@refusal
async def entity_id_missing(request: Request) -> Response:
    """PATCH or PUT /entities without an id: the target is missing (clause 5.6.17, 5.6.18)."""
    raise BadRequestData("the URL names no entity: use /entities/{entityId}")


@refusal
async def attrs_method_not_allowed(request: Request) -> Response:
    """DELETE or PUT on /entities/{id}/attrs: an attribute name is needed (clause 6.6)."""
    raise MethodNotAllowed(
        f"{request.method} needs an attribute: /entities/{{entityId}}/attrs/{{attrId}}"
    )
