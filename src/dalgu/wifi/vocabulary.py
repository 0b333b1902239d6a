"""The names of public Wi-Fi as NGSI-LD entities: Smart Data Models' `dataModel.WifiNetwork`
(`AccessPoint`, `WifiPointOfInterest`), as written with its own `@context` or with none.

An entity written with the Smart Data Models context has its IRIs
(`https://smartdatamodels.org/dataModel.WifiNetwork/apState`); one written without a context
has the core context's default vocabulary (`.../ngsi-ld/default-context/apState`). Dalgu reads
both, and writes back under the IRI the entity already uses (its type's vocabulary for a new
attribute). Dalgu's own additions (`reachable`, `coverageRadius`, `maxClients`,
`accessPointsUp`, `accessPointsTotal`) are not in the data model, so they are never given its
namespace: they are under the default vocabulary, the names a client using only the core
context reads and writes.
"""

from __future__ import annotations

from typing import Any, Final

from dalgu.broker.model import VALUE_MEMBER, Entity, first_instance
from dalgu.ldcontext.core import DEFAULT_VOCAB

SDM: Final = "https://smartdatamodels.org/dataModel.WifiNetwork/"
#: terms whose Smart Data Models IRI is not under the subject's namespace
_SDM_SHARED: Final = {"name": "https://smartdatamodels.org/name"}

ACCESS_POINT: Final = "AccessPoint"
ZONE: Final = "WifiPointOfInterest"
UP, DOWN = "up", "down"
#: a zone's `wifiStatus` (the data model's four values)
NO_SERVICE, WORKING, PARTIAL, FAILURE = "noService", "working", "workingPartially", "totalFailure"


#: Dalgu's additions to the data model
EXTENSIONS: Final = frozenset(
    {"reachable", "coverageRadius", "maxClients", "accessPointsUp", "accessPointsTotal"}
)


def iris(term: str) -> tuple[str, str]:
    """(the Smart Data Models IRI, the default vocabulary's IRI) of `term`; an addition of
    Dalgu's has the second only (given twice)."""
    default = DEFAULT_VOCAB + term
    if term in EXTENSIONS:
        return default, default
    return _SDM_SHARED.get(term, SDM + term), default


def in_sdm(entity: Entity) -> bool:
    """Whether the entity's type is the data model's (written with its context)."""
    return any(str(t).startswith(SDM) for t in entity.get("type", ()))


def instance(entity: Entity, term: str) -> dict[str, Any] | None:
    """The first instance of attribute `term`, under either IRI."""
    for iri in iris(term):
        found = first_instance(entity, iri)
        if found is not None:
            return found
    return None


def value(entity: Entity, term: str) -> Any:
    """The value (or object) of attribute `term`; a DateTime's text; None when absent."""
    found = instance(entity, term)
    if found is None:
        return None
    held = found.get(VALUE_MEMBER.get(str(found.get("type", "Property")), "value"))
    if isinstance(held, dict) and "@value" in held:
        return held["@value"]
    return held


def key(entity: Entity, term: str) -> str:
    """The IRI to write attribute `term` of `entity` under."""
    sdm, default = iris(term)
    if sdm in entity:
        return sdm
    if default in entity:
        return default
    return sdm if in_sdm(entity) else default
