"""The HTTP side of distributed operations (clause 4.3.6): when a request on entities meets
context source registrations, its parts are forwarded and the answers put together here.

`local=true` (clause 6.3.18), a tenant without registrations and an operation no registration
claims take the plain path: these functions return None and the handler goes on as before.
A distributed write answers as the plain one when every part succeeded, the one part's error
when it was the only part, and otherwise 207 with a BatchOperationResult whose errors name
the registration of each failed context source (clause 5.2.16, 5.2.17).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import params
from dalgu.api.edge import runtime
from dalgu.api.negotiation import RequestContext
from dalgu.api.problem import problem_body
from dalgu.api.respond import no_content, plain_json
from dalgu.broker.model import Entity
from dalgu.broker.service import BatchResult
from dalgu.errors import DalguError, ResourceNotFound
from dalgu.federation.client import Origin
from dalgu.federation.consumption import merge, parse_remote, restricted_params
from dalgu.federation.distributor import Distributor, Forward, Outcome, refusal
from dalgu.federation.provision import has_attributes, split_body
from dalgu.federation.routing import Claim
from dalgu.ldcontext.termmap import TermMap
from dalgu.store.base import EntityQuery, QueryResult


@dataclass(frozen=True, slots=True)
class Plan:
    distributor: Distributor
    origin: Origin
    claims: list[Claim]


async def plan(
    request: Request,
    rc: RequestContext,
    operation: str,
    entity_id: str | None,
    types: list[str] | None,
    *,
    reads: bool = False,
) -> Plan | None:
    """The claims on this request, or None: nothing to distribute. `types` None: the
    entity's types as this broker holds it, if it does (else any type matches)."""
    rt = runtime(request)
    distributor = rt.distributor
    if distributor is None or params.flag(request.query_params, "local"):
        return None
    if not await distributor.registrations(rc.tenant):
        return None  # the commonest case: one cached lookup
    origin = distributor.origin(request.headers)
    if types is None and entity_id is not None:
        types = await rt.service.types_of(rc.tenant, entity_id)
    found = await distributor.claims(rc.tenant, origin, operation, entity_id, types, reads=reads)
    if reads:
        found = [c for c in found if c.offers]
    return Plan(distributor, origin, found) if found else None


async def write(
    plan: Plan,
    rc: RequestContext,
    entity_id: str,
    body: dict[str, Any] | None,
    method: str,
    path: str,
    local: Callable[[dict[str, Any] | None], Awaitable[Any]],
    success: Callable[[], Response],
    *,
    query: list[tuple[str, str]] | None = None,
    local_needs_attributes: bool = True,
) -> Response:
    """One entity's write split between the claims and this broker (`local` is called with
    this broker's part of the body, or None for a write without one)."""
    if body is not None:
        split = split_body(body, rc.terms, plan.claims)
        forwards = [Forward(c, method, path, query, part) for c, part in split.forwarded]
        refused = split.refused
        mine = split.local
        run_local = mine is not None and (has_attributes(mine) or not local_needs_attributes)
    else:
        forwards = [Forward(c, method, path, query) for c in plan.claims if c.offers]
        refused = [c for c in plan.claims if not c.offers]
        mine = None
        run_local = not any(c.proxied and c.attrs is None for c in plan.claims)
    outcomes = await plan.distributor.run(
        plan.origin, forwards, (lambda: local(mine)) if run_local else None, refused
    )
    return answer(entity_id, outcomes, success)


def answer(entity_id: str, outcomes: list[Outcome], success: Callable[[], Response]) -> Response:
    failed = [o for o in outcomes if o.error is not None]
    if not failed:
        return success()
    if len(outcomes) == 1 and failed[0].error is not None:
        raise failed[0].error
    return plain_json(
        {
            "success": [entity_id] if len(failed) < len(outcomes) else [],
            "errors": [error_item(entity_id, o) for o in failed],
        },
        status=207,
    )


def error_item(entity_id: str | None, outcome: Outcome) -> dict[str, Any]:
    """A BatchEntityError (clause 5.2.17), with the registration of a context source's."""
    assert outcome.error is not None
    item: dict[str, Any] = {"entityId": entity_id, "error": problem_body(outcome.error)}
    if outcome.registration_id is not None:
        item["registrationId"] = outcome.registration_id
    return item


async def attribute_write(
    plan: Plan,
    entity_id: str,
    attr: str,
    method: str,
    path: str,
    body: Any,
    local: Callable[[], Awaitable[Any]],
    success: Callable[[], Response],
    *,
    query: list[tuple[str, str]] | None = None,
) -> Response | None:
    """A write of one attribute (its IRI `attr`) to the claims that take it, and here unless
    a proxied claim does; None when no claim takes it (the plain path answers)."""
    taking = [c for c in plan.claims if c.takes(attr)]
    if not taking:
        return None
    forwards = [Forward(c, method, path, query, body) for c in taking if c.offers]
    refused = [c for c in taking if not c.offers]
    here = None if any(c.proxied for c in taking) else local
    outcomes = await plan.distributor.run(plan.origin, forwards, here, refused)
    return answer(entity_id, outcomes, success)


async def read_entity(
    plan: Plan,
    rc: RequestContext,
    entity_id: str,
    path: str,
    given: Iterable[tuple[str, str]],
    local: Callable[[], Awaitable[Entity]],
) -> Entity:
    """Retrieve Entity across the claims (clause 5.7.1.4): this broker's entity, if it has
    one, merged with what each context source answers."""
    given = list(given)
    forwards = [
        Forward(c, "GET", path, restricted_params(given, c, rc.terms, with_ids=False) or None)
        for c in plan.claims
    ]
    held: list[Entity] = []

    async def here() -> None:
        held.append(await local())

    outcomes = await plan.distributor.run(plan.origin, forwards, here)
    own_error = outcomes[0].error
    if own_error is not None and not isinstance(own_error, ResourceNotFound):
        raise own_error
    entity = held[0] if held else None
    for forward, outcome in zip(forwards, outcomes[1:], strict=True):
        if outcome.reply is None or outcome.error is not None:
            continue
        remote = parse_remote(outcome.reply.json(), rc.terms)
        if remote is not None and remote.get("id") == entity_id:
            entity = merge(entity, remote, forward.claim)
    if entity is None:
        raise ResourceNotFound(f"entity {entity_id} does not exist here or at a context source")
    return entity


async def query(
    plan: Plan,
    forward: Callable[[Claim], Forward],
    rc: RequestContext,
    entity_query: EntityQuery,
    local: Callable[[EntityQuery], Awaitable[QueryResult]],
) -> QueryResult:
    """Query Entities across the claims (clause 5.7.2.4): this broker's matches and each
    context source's first page, merged by id, then paged. Without EntityMaps (clause
    4.3.6.7) a page past a context source's first page does not reach further into it."""
    forwards = [forward(c) for c in plan.claims]
    found: list[QueryResult] = []
    wide = replace(entity_query, offset=0, limit=entity_query.offset + entity_query.limit)

    async def here() -> None:
        found.append(await local(wide))

    outcomes = await plan.distributor.run(plan.origin, forwards, here)
    if outcomes[0].error is not None:
        raise outcomes[0].error
    merged: dict[str, Entity] = {e["id"]: e for e in found[0].entities}
    local_count = found[0].count
    for sent, outcome in zip(forwards, outcomes[1:], strict=True):
        answered = outcome.reply.json() if outcome.reply is not None else None
        if outcome.error is not None or not isinstance(answered, list):
            continue
        for doc in answered:
            remote = parse_remote(doc, rc.terms)
            if remote is not None and isinstance(remote.get("id"), str):
                merged[remote["id"]] = merge(merged.get(remote["id"]), remote, sent.claim)
    entities = list(merged.values())
    page = entities[entity_query.offset : entity_query.offset + entity_query.limit]
    count = None
    if entity_query.count:
        extra = len(entities) - len(found[0].entities)
        count = (local_count or 0) + extra
    return QueryResult([orjson.dumps(e) for e in page], count)


async def broadcast(
    plan: Plan,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    local: Callable[[], Awaitable[Any]],
) -> Response:
    """A write on no one entity (Purge Entities) sent as it came to every claim offering it,
    and done here too: 204, or 207 with each failed part."""
    forwards = [Forward(c, method, path, query or None) for c in plan.claims if c.offers]
    outcomes = await plan.distributor.run(plan.origin, forwards, local)
    failed = [o for o in outcomes if o.error is not None]
    if not failed:
        return no_content()
    if len(outcomes) == 1 and failed[0].error is not None:
        raise failed[0].error
    return plain_json({"success": [], "errors": [error_item(None, o) for o in failed]}, status=207)


async def batch_plan(request: Request, rc: RequestContext) -> Plan | None:
    """For a batch: the distributor and origin when the tenant has registrations (each
    entity's claims are found by `batch`), else None."""
    distributor = runtime(request).distributor
    if distributor is None or params.flag(request.query_params, "local"):
        return None
    if not await distributor.registrations(rc.tenant):
        return None
    return Plan(distributor, distributor.origin(request.headers), [])


async def batch(
    request: Request,
    plan: Plan,
    rc: RequestContext,
    operation: str,
    path: str,
    raw: list[Any],
    local: Callable[[list[Any]], Awaitable[BatchResult]],
) -> tuple[BatchResult, bool]:
    """A batch split by entity between the claims and this broker (clauses 5.6.7–5.6.10,
    5.6.20): one request per context source with its entities' parts. The merged result,
    and whether any part went to a context source."""
    rt = runtime(request)
    kept: list[Any] = []
    parts: dict[str, tuple[Claim, list[Any], list[str | None]]] = {}
    refusals: list[tuple[str | None, Claim]] = []
    for item in raw:
        entity_id, body = _batch_member(item)
        if entity_id is None:
            kept.append(item)
            continue
        terms = rc.terms
        if body is not None and "@context" in body:  # an application/ld+json batch's item
            terms = await rt.resolver.resolve(body["@context"])
        types = _types_of(body, terms) or await rt.service.types_of(rc.tenant, entity_id)
        found = await plan.distributor.claims(rc.tenant, plan.origin, operation, entity_id, types)
        if not found:
            kept.append(item)
            continue
        if body is None:  # an id to delete
            for claim in found:
                if claim.offers:
                    _add(parts, claim, item, entity_id)
                else:
                    refusals.append((entity_id, claim))
            if not any(c.proxied and c.attrs is None for c in found):
                kept.append(item)
            continue
        split = split_body(body, terms, found)
        for claim, part in split.forwarded:
            _add(parts, claim, part, entity_id)
        refusals.extend((entity_id, c) for c in split.refused)
        if split.local is not None and (has_attributes(split.local) or not has_attributes(body)):
            kept.append(split.local)
    query = _forwarded_options(request.query_params.multi_items()) or None
    forwards = [Forward(claim, "POST", path, query, bodies) for claim, bodies, _ in parts.values()]
    results: list[BatchResult] = []

    async def here() -> None:
        results.append(await local(kept) if kept else BatchResult())

    outcomes = await plan.distributor.run(plan.origin, forwards, here)
    if outcomes[0].error is not None:
        raise outcomes[0].error
    merged = results[0]
    for (claim, _, ids), outcome in zip(parts.values(), outcomes[1:], strict=True):
        if outcome.error is None:
            merged.success.extend(i for i in ids if i is not None and i not in merged.success)
            continue
        for entity_id in ids:
            merged.errors.append((entity_id, _with_registration(outcome.error, claim)))
    for entity_id, claim in refusals:
        merged.errors.append((entity_id, _with_registration(refusal(claim), claim)))
    failed = {entity_id for entity_id, _ in merged.errors}
    merged.success[:] = [i for i in merged.success if i not in failed]
    return merged, bool(parts)


def _batch_member(item: Any) -> tuple[str | None, dict[str, Any] | None]:
    if isinstance(item, str):
        return item, None
    if isinstance(item, dict) and isinstance(item.get("id", item.get("@id")), str):
        return str(item.get("id", item.get("@id"))), item
    return None, None


def _types_of(body: dict[str, Any] | None, terms: TermMap) -> list[str] | None:
    given = None if body is None else body.get("type", body.get("@type"))
    names = given if isinstance(given, list) else [given] if isinstance(given, str) else []
    return [terms.expand(n) for n in names if isinstance(n, str)] or None


def _add(
    parts: dict[str, tuple[Claim, list[Any], list[str | None]]],
    claim: Claim,
    part: Any,
    entity_id: str,
) -> None:
    entry = parts.setdefault(claim.registration_id, (claim, [], []))
    entry[1].append(part)
    entry[2].append(entity_id)


def _with_registration(error: DalguError, claim: Claim) -> DalguError:
    error.extra["registrationId"] = claim.registration_id
    return error


def query_forward(
    rc: RequestContext, given: Iterable[tuple[str, str]]
) -> Callable[[Claim], Forward]:
    """GET /entities to a claim: the client's parameters, restricted to the registration."""
    pairs = list(given)
    return lambda c: Forward(c, "GET", "/entities", restricted_params(pairs, c, rc.terms))


def batch_query_forward(rc: RequestContext, body: dict[str, Any]) -> Callable[[Claim], Forward]:
    """POST /entityOperations/query to a claim: the client's Query, its `attrs` restricted
    to the registration's."""

    def forward(claim: Claim) -> Forward:
        sent = dict(body)
        if claim.attrs is not None:
            registered = sorted(rc.terms.compact(iri) for iri in claim.attrs)
            asked = [a for a in body.get("attrs") or () if a in registered]
            sent["attrs"] = asked or registered
        return Forward(claim, "POST", "/entityOperations/query", None, sent)

    return forward


def _forwarded_options(given: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """A batch's parameters for a context source: not `local`, and not the default upsert mode
    (`options=replace` says what saying nothing says)."""
    pairs = []
    for key, value in given:
        if key == "local":
            continue
        if key == "options":
            value = ",".join(o for o in value.split(",") if o.strip() != "replace")
            if not value:
                continue
        pairs.append((key, value))
    return pairs
