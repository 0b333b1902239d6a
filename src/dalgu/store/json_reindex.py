"""Index rows of JsonProperty values for entities stored before those values were indexed.

Earlier versions indexed a JsonProperty instance (its marker, its members such as
observedAt, its sub-attributes) but not its `json`, so a `q` on its keys (clause 4.9,
EXAMPLE 11: `parkingTickets[value]=="Overstay 60 minutes"`) matched nothing. Each store's
one-time migration rewrites the rows of every stored entity that holds one through the row diff
of its own writes: from the rows of `as_indexed_before(entity)`, exactly those the older code
made, to the rows of the entity.
"""

from __future__ import annotations

from typing import Any

from dalgu.broker.model import MEMBERS, attribute_iris
from dalgu.store.base import Entity

#: text in the stored document of every entity that holds a JsonProperty: the migrations'
#: prefilter in SQL (a database without any reads no document in Python)
MARK = "JsonProperty"


def as_indexed_before(entity: Entity) -> Entity | None:
    """`entity` with the `json` of every JsonProperty instance left out, sub-attributes'
    included; None when it holds no JsonProperty value."""
    found: Entity | None = None
    for iri in attribute_iris(entity):
        instances = entity[iri]
        if not isinstance(instances, list):
            continue
        stripped = [_without_json(i) if isinstance(i, dict) else None for i in instances]
        if any(s is not None for s in stripped):
            if found is None:
                found = dict(entity)
            found[iri] = [
                s if s is not None else i for s, i in zip(stripped, instances, strict=True)
            ]
    return found


def _without_json(instance: dict[str, Any]) -> dict[str, Any] | None:
    """The instance without the JSON values it holds (None: it holds none), walked as
    `indexing._instance_rows` walks it."""
    changed: dict[str, Any] | None = None
    if instance.get("type") == "JsonProperty" and "json" in instance:
        changed = {k: v for k, v in instance.items() if k != "json"}
    if MEMBERS.issuperset(instance):
        return changed
    for key, sub in instance.items():
        if key in MEMBERS or not isinstance(sub, dict):
            continue
        inner = _without_json(sub)
        if inner is not None:
            if changed is None:
                changed = dict(instance)
            changed[key] = inner
    return changed
