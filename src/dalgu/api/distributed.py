"""The HTTP side of distributed operations (clause 4.3.6): when a request on entities meets
context source registrations, its parts are forwarded and the answers put together here.

`local=true` (clause 6.3.18), a tenant without registrations and an operation no registration
claims take the plain path: these functions return None and the handler goes on as before.
A distributed write answers as the plain one when every part succeeded, the one part's error
when it was the only part, and otherwise 207 with a BatchOperationResult whose errors name
the registration of each failed context source (clause 5.2.16, 5.2.17). A part that does not
hold the entity (its 404) is no failure when others wrote what it was given (clause 5.6.2.4).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import params
from dalgu.api.edge import runtime
from dalgu.api.negotiation import RequestContext
from dalgu.api.problem import problem_body
from dalgu.api.respond import no_content, plain_json
from dalgu.federation.client import Origin
from dalgu.federation.distributor import Forward, Outcome, Plan
from dalgu.federation.provision import (
    attributes,
    has_attributes,
    split_body,
    written_elsewhere,
)


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
    if distributor is None or params.local(request.query_params):
        return None
    if not await distributor.registrations(rc.tenant):
        return None  # the commonest case: one cached lookup
    origin = _origin(request, rc)
    held = None
    if entity_id is not None and (types is None or not reads):
        here = await rt.service.types_of(rc.tenant, entity_id)
        held = here is not None
        types = here if types is None else types
    found = await distributor.claims(rc.tenant, origin, operation, entity_id, types, reads=reads)
    if reads:
        found = [c for c in found if c.offers]
    given = tuple((k, v) for k, v in request.query_params.multi_items() if k != "local")
    return Plan(distributor, origin, found, held, given) if found else None


def _query(plan: Plan, query: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
    """A forwarded write's parameters: the client's (a merge's `observedAt` and `lang`,
    `options=keyValues` for a body in that form), then those of `query` the client did not
    give."""
    given = {key for key, _ in plan.params}
    pairs = [*plan.params, *(p for p in query or () if p[0] not in given)]
    return pairs or None


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
    query = _query(plan, query)
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
    if body is None:
        # a delete: a part that does not hold the entity is a failed part of a 207, as the
        # ETSI suite has it (D002_02_01_inc, D002_02_02_inc; clause 5.6.6)
        return answer(entity_id, outcomes, success)
    written = [attributes(mine)] if run_local else []
    written += [attributes(f.body) for f in forwards] + [frozenset()] * len(refused)
    return answer(entity_id, _where_held(outcomes, written, plan.held), success)


def _where_held(
    outcomes: list[Outcome], written: list[frozenset[str]], held: bool | None
) -> list[Outcome]:
    """The outcomes without the 404 of a part that does not hold the entity while other parts
    wrote what it was given (`written`: each part's attributes): clause 5.6.2.4, an entity
    not held here is no error when a matching registration applies; likewise a context
    source that does not hold it. This broker's own 404 counts only when the entity is not
    here (`held`), not for an attribute it lacks."""
    done: set[str] = set()
    for outcome, attrs in zip(outcomes, written, strict=True):
        if outcome.error is None:
            done |= attrs
    if all(o.error is not None for o in outcomes):
        return outcomes
    return [
        o
        for o, attrs in zip(outcomes, written, strict=True)
        if not (
            written_elsewhere(o.error, attrs, done)
            and (o.registration_id is not None or held is False)
        )
    ]


def answer(
    entity_id: str | None, outcomes: list[Outcome], success: Callable[[], Response]
) -> Response:
    """`success()` when every part succeeded; the only part's error (a context source's 207:
    its answer as it came), or the first 404 when every part was one (the entity is held
    nowhere); else a 207 naming each failed part, a source's 207 among them (`entity_id`
    None: a write on no one entity, which lists no success)."""
    failed = [o for o in outcomes if o.error is not None]
    if not failed:
        return success()
    errors = [o.error for o in failed if o.error is not None]
    if len(failed) == len(outcomes) and all(e.status == 404 for e in errors):
        raise errors[0]  # held nowhere: this broker's ResourceNotFound, else the first
    if len(outcomes) == 1 and failed[0].error is not None:
        reply = failed[0].reply
        if reply is not None and reply.status == 207:  # the source's own partial result
            return Response(reply.body, status_code=207, media_type="application/json")
        raise failed[0].error
    done = entity_id is not None and len(failed) < len(outcomes)
    return plain_json(
        {
            "success": [entity_id] if done else [],
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
    query = _query(plan, query)
    forwards = [Forward(c, method, path, query, body) for c in taking if c.offers]
    refused = [c for c in taking if not c.offers]
    here = None if any(c.proxied for c in taking) else local
    outcomes = await plan.distributor.run(plan.origin, forwards, here, refused)
    written = [frozenset([attr])] * (len(outcomes) - len(refused)) + [frozenset()] * len(refused)
    return answer(entity_id, _where_held(outcomes, written, plan.held), success)


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
    return answer(None, outcomes, no_content)


async def batch_plan(request: Request, rc: RequestContext) -> Plan | None:
    """For a batch: the distributor and origin when the tenant has registrations (each
    entity's claims are found by `batch`), else None."""
    distributor = runtime(request).distributor
    if distributor is None or params.local(request.query_params):
        return None
    if not await distributor.registrations(rc.tenant):
        return None
    return Plan(distributor, _origin(request, rc), [])


def _origin(request: Request, rc: RequestContext) -> Origin:
    """What the forwarded requests take from this one, its @context and terms with it (for
    registrations whose `contextSourceInfo` asks for another, clause 4.3.6.6)."""
    rt = runtime(request)
    assert rt.distributor is not None
    return rt.distributor.origin(
        rc.tenant, request.headers, context=rc.context, terms=rc.terms, contexts=rt.resolver
    )
