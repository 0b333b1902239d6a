"""DELETE /entities: Purge Entities matching a query (clause 6.4.3.3)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import distributed, params
from dalgu.api.edge import read_context, runtime
from dalgu.api.entities import entity_types
from dalgu.api.negotiation import RequestContext
from dalgu.api.respond import no_content
from dalgu.broker.parse import attribute_iri
from dalgu.errors import BadRequestData


async def purge_entities(request: Request) -> Response:
    """DELETE /entities (clause 6.4.3.3): Purge Entities matching a query."""
    rc = await read_context(request)
    rt = runtime(request)
    query_params = request.query_params
    keep = params.names(query_params, "keep")
    drop = params.names(query_params, "drop")
    if keep and drop:
        raise BadRequestData("keep and drop cannot be used together")
    if not (
        query_params.get("type")
        or query_params.get("attrs")
        or query_params.get("q")
        or query_params.get("georel")
        or params.local(query_params)
        or keep
        or drop
    ):
        raise BadRequestData(
            "too wide a purge: give at least one of type, attrs, q, geoQ, keep, drop or "
            "local=true (clause 5.6.21.4)"
        )
    query = params.entity_query(query_params, rc.terms, rt.settings, require_filter=False)

    async def here() -> None:
        await rt.service.purge(
            rc.tenant,
            query,
            drop=frozenset(_member_iri(n, rc) for n in drop),
            keep=frozenset(_member_iri(n, rc) for n in keep) if keep else None,
        )

    types = entity_types(query_params, rc)
    routed = await distributed.plan(request, rc, "purgeEntity", None, types)
    if routed is None:
        await here()
        return no_content()
    forwarded = [(k, v) for k, v in query_params.multi_items() if k != "local"]
    return await distributed.broadcast(routed, "DELETE", "/entities", forwarded, here)


def _member_iri(name: str, rc: RequestContext) -> str:
    return name if name in ("id", "type", "scope") else attribute_iri(name, rc.terms)
