"""Reads across context sources (clauses 5.7.1.4, 5.7.2.4, 4.3.6.7): the request to each
claim, and the entities they answer merged with this broker's own.

An attribute both hold is merged by datasetId: an instance only one side has is kept; of two
with the same datasetId the one observed (or modified) last wins, this broker's on a tie. An
auxiliary source never overrides what this broker holds (clause 4.3.6.2).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dalgu.broker.model import NOT_ATTRIBUTES, Entity, now_iso
from dalgu.broker.parse import parse_entity
from dalgu.errors import DalguError
from dalgu.federation.routing import Claim
from dalgu.ldcontext.termmap import TermMap

#: query parameters a forwarded query does not carry: paging, rendering and this broker's own
NOT_FORWARDED = frozenset(
    [
        "local",
        "limit",
        "offset",
        "count",
        "options",
        "format",
        "lang",
        "join",
        "joinLevel",
        "orderBy",
        "orderFrom",
        "orderGeometry",
        "collation",
        "pick",
        "omit",
        "entityMap",
        "doNotCompact",
        "geometryProperty",
        "via",
        "containedBy",
    ]
)


def restricted_params(
    given: Iterable[tuple[str, str]],
    claim: Claim,
    terms: TermMap,
    *,
    with_ids: bool = True,
) -> list[tuple[str, str]]:
    """The client's parameters for `claim`: the registration's ids and attributes added or
    intersected, as clause 4.3.6.1 asks (a distributed request respects the registration)."""
    params = [(k, v) for k, v in given if k not in NOT_FORWARDED]
    if with_ids:
        ids = registered_ids(claim)
        if ids and not any(k in ("id", "idPattern") for k, _ in params):
            params.append(("id", ",".join(ids)))
    if claim.attrs is not None:
        registered = sorted(terms.compact(iri) for iri in claim.attrs)
        for index, (key, value) in enumerate(params):
            if key == "attrs":
                asked = [a for a in value.split(",") if claim.takes(terms.expand(a))]
                params[index] = ("attrs", ",".join(asked or registered))
                break
        else:
            params.append(("attrs", ",".join(registered)))
    return params


def registered_ids(claim: Claim) -> list[str]:
    """The entity ids the claim's registration names, when it names them all by id."""
    ids: list[str] = []
    for info in claim.registration.get("information", ()):
        for entity in info.get("entities", ()) or [{}]:
            if "id" not in entity:
                return []
            ids.append(str(entity["id"]))
    return ids


_NOT_MERGED = NOT_ATTRIBUTES | {"type", "createdAt", "modifiedAt"}


def parse_remote(doc: Any, terms: TermMap) -> Entity | None:
    """An entity a context source answered with, expanded; None if it is not one."""
    if not isinstance(doc, dict):
        return None
    doc = {k: v for k, v in doc.items() if k != "@context"}
    try:
        return parse_entity(doc, terms, now_iso(), require_type=False)
    except DalguError:
        return None


def merge(local: Entity | None, remote: Entity, claim: Claim) -> Entity:
    """`remote` (from `claim`'s source) merged into `local` (which is not changed)."""
    if local is None:
        return _only_registered(remote, claim)
    merged = dict(local)
    auxiliary = claim.mode == "auxiliary"
    types = list(merged.get("type", []))
    for kind in remote.get("type", []):
        if kind not in types:
            types.append(kind)
    if types:
        merged["type"] = types
    for key, instances in remote.items():
        if key in _NOT_MERGED or not claim.takes(key):
            continue
        mine = merged.get(key)
        if mine is None:
            merged[key] = instances
        elif not auxiliary:
            merged[key] = _merge_instances(mine, instances)
    return merged


def _only_registered(remote: Entity, claim: Claim) -> Entity:
    if claim.attrs is None:
        return remote
    return {k: v for k, v in remote.items() if k in _NOT_MERGED or claim.takes(k)}


def _when(instance: dict[str, Any]) -> str:
    """When an instance was observed ("" if not said: this broker's copy wins the tie)."""
    return str(instance.get("observedAt") or "")


def _merge_instances(
    mine: list[dict[str, Any]], theirs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    by_dataset = {instance.get("datasetId"): instance for instance in mine}
    for instance in theirs:
        dataset = instance.get("datasetId")
        held = by_dataset.get(dataset)
        if held is None or _when(instance) > _when(held):
            by_dataset[dataset] = instance
    return list(by_dataset.values())
