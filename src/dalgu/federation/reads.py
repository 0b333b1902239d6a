"""Retrieve and query across context sources (clauses 5.7.1.4, 5.7.2.4): this broker's
answer and each claim's, merged (`consumption.merge`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any

import orjson

from dalgu.broker.model import Entity
from dalgu.errors import ResourceNotFound
from dalgu.federation.consumption import (
    entities_params,
    merge,
    parse_remote,
    registered,
    restricted_params,
    selected,
    selector_meets,
    shown_attributes,
)
from dalgu.federation.distributor import Forward, Plan
from dalgu.federation.routing import Claim
from dalgu.ldcontext.termmap import TermMap
from dalgu.registrations.discovery import may_hold
from dalgu.store.base import EntityQuery, QueryResult

#: the most entities a query asks a context source for (the first `offset + limit`)
SOURCE_PAGE = 1000
#: what a source answers without `limit` (NGSI-LD brokers' default page): a query within it is
#: forwarded without one, as the client's own request (a source stubbed on its exact URL,
#: such as the ETSI suite's, answers only that)
SOURCE_DEFAULT_PAGE = 20


async def read_entity(
    plan: Plan,
    terms: TermMap,
    entity_id: str,
    path: str,
    given: Iterable[tuple[str, str]],
    local: Callable[[], Awaitable[Entity]],
) -> Entity:
    """Retrieve Entity across the claims: this broker's entity, if it has one, merged with
    what each context source answers (`given`: the client's parameters)."""
    pairs = list(given)
    forwards = [
        Forward(c, "GET", path, restricted_params(pairs, c, terms, with_ids=False) or None)
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
    failures = []
    for forward, outcome in zip(forwards, outcomes[1:], strict=True):
        if outcome.error is not None and not isinstance(outcome.error, ResourceNotFound):
            failures.append(outcome.error)
        if outcome.reply is None or outcome.error is not None:
            continue
        remote = parse_remote(outcome.reply.json(), outcome.reply.terms or terms)
        if remote is not None and remote.get("id") == entity_id:
            entity = merge(entity, remote, forward.claim)
    if entity is None:
        if failures:  # a source that may hold it could not be asked: not "does not exist"
            raise failures[0]
        raise ResourceNotFound(f"entity {entity_id} does not exist here or at a context source")
    return entity


async def query_entities(
    plan: Plan,
    forward: Callable[[Claim], Forward | None],
    terms: TermMap,
    entity_query: EntityQuery,
    local: Callable[[EntityQuery], Awaitable[QueryResult]],
) -> QueryResult:
    """Query Entities across the claims: this broker's matches and each context source's
    first `offset + limit` (at most `SOURCE_PAGE`), merged by id, then paged; the count adds
    what the sources counted beyond what they sent. Without EntityMaps (clause 4.3.6.7) a
    page does not reach past a source's first `SOURCE_PAGE`. A registration that holds
    none of the attributes asked for is not asked (clause 5.12), nor one whose source cannot
    hold latest values the geo-query or scopeQ selects (`may_hold`), nor one `forward` finds
    none of the entities asked for in. A source's entity counts only if its registration
    registers it, and one only sources answered only if it is what the query selects
    (clause 4.3.6.1: the registration's constraints respected; a source may ignore some)."""
    claims = [
        c
        for c in plan.claims
        if c.serves(entity_query.attrs)
        and may_hold(c.registration, entity_query.geo, terms.expand, entity_query.scope)
    ]
    asked = (forward(c) for c in claims)
    window = entity_query.offset + entity_query.limit
    paging = [("limit", str(min(window, SOURCE_PAGE)))] if window > SOURCE_DEFAULT_PAGE else []
    if entity_query.count:
        paging.append(("count", "true"))
    forwards = [replace(f, params=[*(f.params or ()), *paging]) for f in asked if f is not None]
    found: list[QueryResult] = []
    wide = replace(entity_query, offset=0, limit=window)

    async def here() -> None:
        found.append(await local(wide))

    outcomes = await plan.distributor.run(plan.origin, forwards, here)
    if outcomes[0].error is not None:
        raise outcomes[0].error
    merged: dict[str, Entity] = {e["id"]: e for e in found[0].entities}
    #: beyond the entities merged: those the sources counted and did not send (clause 6.3.13)
    unsent = 0
    for sent, outcome in zip(forwards, outcomes[1:], strict=True):
        reply = outcome.reply
        answered = reply.json() if reply is not None else None
        if outcome.error is not None or reply is None or not isinstance(answered, list):
            continue
        if reply.count is not None:
            unsent += max(reply.count - len(answered), 0)
        for doc in answered:
            remote = parse_remote(doc, reply.terms or terms)
            if remote is not None and registered(remote, sent.claim):
                merged[remote["id"]] = merge(merged.get(remote["id"]), remote, sent.claim)
    matched_here = {e["id"] for e in found[0].entities}
    shown = [s for f in forwards if (s := shown_attributes(f.claim, entity_query.attrs))]
    visible = frozenset.intersection(*shown) if shown else None  # in every source's answer
    entities = [
        e for e in merged.values() if e["id"] in matched_here or selected(e, entity_query, visible)
    ]
    page = entities[entity_query.offset : entity_query.offset + entity_query.limit]
    count = None
    if entity_query.count:
        count = (found[0].count or 0) + len(entities) - len(found[0].entities) + unsent
    return QueryResult([orjson.dumps(e) for e in page], count)


def query_forward(
    terms: TermMap, given: Iterable[tuple[str, str]]
) -> Callable[[Claim], Forward | None]:
    """GET /entities to a claim: the client's parameters, restricted to the registration;
    None when it registers none of the types or ids asked for."""
    pairs = list(given)

    def forward(claim: Claim) -> Forward | None:
        params = entities_params(pairs, claim, terms)
        if params is None:
            return None
        return Forward(claim, "GET", "/entities", restricted_params(params, claim, terms))

    return forward


def batch_query_forward(terms: TermMap, body: dict[str, Any]) -> Callable[[Claim], Forward | None]:
    """POST /entityOperations/query to a claim: the client's Query, its `entities` cut to
    the selectors the registration may hold (none: not sent) and its `attrs` to the
    registration's."""

    def forward(claim: Claim) -> Forward | None:
        sent = dict(body)
        selectors = body.get("entities")
        if isinstance(selectors, list) and selectors:
            sent["entities"] = [s for s in selectors if selector_meets(s, claim, terms)]
            if not sent["entities"]:
                return None
        if claim.attrs is not None:
            registered = sorted(terms.compact(iri) for iri in claim.attrs)
            asked = [a for a in body.get("attrs") or () if claim.takes(terms.expand(str(a)))]
            sent["attrs"] = asked or registered
        return Forward(claim, "POST", "/entityOperations/query", None, sent)

    return forward
