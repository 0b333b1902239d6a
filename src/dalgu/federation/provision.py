"""Splitting a write between context sources and this broker (clauses 5.6.1.4 ff.).

A body's attributes go to every claim that takes them. Those of proxied claims (exclusive,
redirect) leave this broker's part; those of a proxied claim that does not offer the
operation leave it too, and are that claim's Conflict. What is left is this broker's part.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from dalgu.broker.model import ENTITY_KEYS
from dalgu.broker.parse import attribute_iri
from dalgu.errors import DalguError
from dalgu.federation.routing import Claim
from dalgu.ldcontext.termmap import TermMap


@dataclass(slots=True)
class Split:
    #: this broker's part of the body; None: nothing of it stays here
    local: dict[str, Any] | None
    #: each claim that offers the operation, with its part
    forwarded: list[tuple[Claim, dict[str, Any]]] = field(default_factory=list)
    #: proxied claims that do not offer the operation
    refused: list[Claim] = field(default_factory=list)


def _attribute_keys(body: dict[str, Any], terms: TermMap) -> dict[str, str]:
    """Each attribute member of `body` and its IRI."""
    return {key: attribute_iri(key, terms) for key in body if key not in ENTITY_KEYS}


def split_body(body: dict[str, Any], terms: TermMap, claims: list[Claim]) -> Split:
    """Parts of an entity or fragment body (compacted as the client sent it)."""
    keys = _attribute_keys(body, terms)
    envelope = {k: v for k, v in body.items() if k in ENTITY_KEYS}
    split = Split(local=None)
    kept = dict(keys)
    whole_elsewhere = False
    for claim in claims:
        taken = {k: iri for k, iri in keys.items() if claim.takes(iri)}
        if claim.proxied:
            for key in taken:
                kept.pop(key, None)
            if claim.attrs is None:
                whole_elsewhere = True
        if not claim.offers:
            if taken or claim.attrs is None:
                split.refused.append(claim)
            continue
        if taken or claim.attrs is None or not keys:
            split.forwarded.append((claim, {**envelope, **{k: body[k] for k in taken}}))
    if not (whole_elsewhere and not kept):
        split.local = {**envelope, **{k: body[k] for k in kept}}
    return split


def has_attributes(body: dict[str, Any] | None) -> bool:
    return body is not None and any(key not in ENTITY_KEYS for key in body)


def attributes(body: Any) -> frozenset[str]:
    """The attribute members of a part's body (none in an entity id or without a body)."""
    if not isinstance(body, dict):
        return frozenset()
    return frozenset(key for key in body if key not in ENTITY_KEYS)


def written_elsewhere(
    error: DalguError | None, sent: frozenset[str], written: AbstractSet[str] | None
) -> bool:
    """Is `error` the 404 of a part that does not hold the entity while the other parts wrote
    all it was sent (`written`: what they wrote; None: nothing)? Clause 5.6.2.4: an entity a
    part does not hold is no error when a matching registration applies. (Whether this
    broker's own 404 means the entity is not here at all is the caller's to add.)"""
    return error is not None and error.status == 404 and written is not None and sent <= written
