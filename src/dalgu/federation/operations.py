"""The operations a registration offers (clause 4.20: Table 4.20-1 names, Table 4.20-2
groups); a registration that names none offers `federationOps`."""

from __future__ import annotations

from typing import Any

from dalgu.registrations.model import DEFAULT_OPERATIONS

_READS = [
    "retrieveEntity",
    "queryEntity",
    "queryBatch",
    "retrieveEntityTypes",
    "retrieveEntityTypeDetails",
    "retrieveEntityTypeInfo",
    "retrieveAttrTypes",
    "retrieveAttrTypeDetails",
    "retrieveAttrTypeInfo",
]
_SUBSCRIPTIONS = [
    "createSubscription",
    "updateSubscription",
    "retrieveSubscription",
    "querySubscription",
    "deleteSubscription",
]
_MAPS = ["retrieveEntityMap", "updateEntityMap", "deleteEntityMap", "createEntityMapQueryEntity"]

GROUPS: dict[str, frozenset[str]] = {
    "federationOps": frozenset([*_READS, *_SUBSCRIPTIONS, *_MAPS, "retrieveContextSourceIdentity"]),
    "associationOps": frozenset([*_READS, *_SUBSCRIPTIONS, "retrieveContextSourceIdentity"]),
    "updateOps": frozenset({"updateEntity", "updateAttrs", "replaceEntity", "replaceAttrs"}),
    "retrieveOps": frozenset({"retrieveEntity", "queryEntity"}),
    "redirectionOps": frozenset(
        [
            "createEntity",
            "updateEntity",
            "appendAttrs",
            "updateAttrs",
            "deleteAttrs",
            "deleteEntity",
            "mergeEntity",
            "replaceEntity",
            "replaceAttrs",
            "retrieveEntity",
            "queryEntity",
            "purgeEntity",
            *_READS[3:],
            *_MAPS,
            "retrieveContextSourceIdentity",
        ]
    ),
}


def offered(registration: dict[str, Any]) -> frozenset[str]:
    """Every operation name `registration` offers, its groups expanded."""
    names: set[str] = set()
    for name in registration.get("operations", DEFAULT_OPERATIONS):
        names |= GROUPS.get(name, {name})
    return frozenset(names)
