"""Batch operations across context sources (clauses 5.6.7–5.6.10, 5.6.20): each entity's
parts go to the claims that take them, one batch per context source, the rest here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dalgu.broker.service import BatchResult
from dalgu.errors import ContextSourceError, DalguError
from dalgu.federation.distributor import Forward, Outcome, Plan, refusal
from dalgu.federation.provision import (
    attributes,
    has_attributes,
    split_body,
    written_elsewhere,
)
from dalgu.federation.routing import Claim
from dalgu.ldcontext.termmap import TermMap


@dataclass(frozen=True, slots=True)
class BatchItems:
    """How a batch's items are read: the tenant, the request's terms, a resolver for an item's
    own @context, and the types this broker holds for an entity (None: not here)."""

    tenant: str
    terms: TermMap
    resolve: Callable[[Any], Awaitable[TermMap]]
    types_of: Callable[[str], Awaitable[list[str] | None]]


async def distribute_batch(
    plan: Plan,
    items: BatchItems,
    operation: str,
    path: str,
    given: Iterable[tuple[str, str]],
    raw: list[Any],
    local: Callable[[list[Any]], Awaitable[BatchResult]],
) -> BatchResult:
    """A batch split by entity between the claims and this broker (clauses 5.6.7–5.6.10,
    5.6.20): one request per context source with its entities' parts (`given`: the client's
    parameters), the rest to `local`; the results merged, entity by entity."""
    kept: list[Any] = []
    parts: dict[str, tuple[Claim, list[Any], list[str | None]]] = {}
    refusals: list[tuple[str | None, Claim]] = []
    for item in raw:
        entity_id, body = _batch_member(item)
        if entity_id is None:
            kept.append(item)
            continue
        terms = items.terms
        if body is not None and "@context" in body:  # an application/ld+json batch's item
            terms = await items.resolve(body["@context"])
        types = _types_of(body, terms) or await items.types_of(entity_id)
        found = await plan.distributor.claims(
            items.tenant, plan.origin, operation, entity_id, types
        )
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
    query = _forwarded_options(given) or None
    forwards = [Forward(claim, "POST", path, query, bodies) for claim, bodies, _ in parts.values()]
    results: list[BatchResult] = []

    async def here() -> None:
        results.append(await local(kept) if kept else BatchResult())

    outcomes = await plan.distributor.run(plan.origin, forwards, here)
    if outcomes[0].error is not None:
        raise outcomes[0].error
    merged = results[0]
    mine = {i: attributes(b) for i, b in map(_batch_member, kept) if i is not None}
    #: each entity's attributes some part wrote, and each failure with what its part was sent
    done: dict[str, set[str]] = {i: set(mine.get(i, ())) for i in merged.success}
    failures = [(i, e, mine.get(i or "", frozenset()), True) for i, e in merged.errors]
    for (claim, bodies, ids), outcome in zip(parts.values(), outcomes[1:], strict=True):
        answer = outcome.reply.json() if outcome.reply is not None else None
        if outcome.error is not None and not _batch_result(outcome, answer):
            failed_there = [(i, _with_registration(outcome.error, claim)) for i in ids]
        else:
            failed_there = _source_errors(answer, ids, claim) if outcome.error is not None else []
        unsuccessful = {entity_id for entity_id, _ in failed_there}
        for entity_id, body in zip(ids, bodies, strict=True):
            if entity_id is None:
                continue
            if entity_id in unsuccessful:
                sent = attributes(body)
                failures.extend((i, e, sent, False) for i, e in failed_there if i == entity_id)
                continue
            done.setdefault(entity_id, set()).update(attributes(body))
            if entity_id not in merged.success:
                merged.success.append(entity_id)
        if isinstance(answer, list) and outcome.reply is not None and outcome.reply.status == 201:
            merged.created.extend(i for i in answer if i in ids and i not in merged.created)
    merged.errors[:] = [
        (entity_id, error)
        for entity_id, error, attrs, here in failures
        if not await _held_elsewhere(items, done, entity_id, error, attrs, here=here)
    ]
    for entity_id, claim in refusals:
        merged.errors.append((entity_id, _with_registration(refusal(claim), claim)))
    failed = {entity_id for entity_id, _ in merged.errors}
    merged.success[:] = [i for i in merged.success if i not in failed]
    return merged


async def _held_elsewhere(
    items: BatchItems,
    done: dict[str, set[str]],
    entity_id: str | None,
    error: DalguError,
    attrs: frozenset[str],
    *,
    here: bool,
) -> bool:
    """`written_elsewhere` for one entity of a batch (this broker's own 404 only when the
    entity is not here at all)."""
    if entity_id is None or not written_elsewhere(error, attrs, done.get(entity_id)):
        return False
    return not here or await items.types_of(entity_id) is None


def _batch_result(outcome: Outcome, answer: Any) -> bool:
    """Is `outcome` a context source's 207 BatchOperationResult (clause 5.2.16)?"""
    reply = outcome.reply
    return (
        reply is not None
        and reply.status == 207
        and isinstance(answer, dict)
        and isinstance(answer.get("errors"), list)
    )


def _source_errors(
    answer: Any, ids: list[str | None], claim: Claim
) -> list[tuple[str | None, DalguError]]:
    """The entities of a context source's 207 BatchOperationResult that failed there, each
    with the source's ProblemDetails and the registration (only entities sent to it)."""
    failed: list[tuple[str | None, DalguError]] = []
    for item in answer["errors"]:
        if not isinstance(item, dict) or item.get("entityId") not in ids:
            continue
        problem = item["error"] if isinstance(item.get("error"), dict) else {}
        given = problem.get("status")
        status = given if isinstance(given, int) and given >= 400 else 400
        kind = problem.get("type")
        detail = problem.get("detail") or problem.get("title") or "failed at the context source"
        error = ContextSourceError(str(detail), status, kind if isinstance(kind, str) else None)
        failed.append((item["entityId"], _with_registration(error, claim)))
    return failed


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
