"""Where an NGSI-LD Null (`urn:ngsi-ld:null`) may stand in a write (clause 5.5.4).

The Null deletes what it targets, and only in the Fragments of a partial update (Update
Attributes, Partial Attribute Update: clause 5.5.8) or of a merge (clause 5.5.12). Anywhere
else (Create, Replace Entity, Replace Attribute, Append Attributes, the batch create, upsert
and update, which append) it is a BadRequestData: stored, it would read as an attribute that
was deleted (clause 4.5.0 keeps the Null for deleted elements in notifications and temporal
evolutions). A Null as the value of a key of a Property's JSON object value deletes that key
in a merge only; a partial update refuses it too. Checked on parsed (expanded) entities.
"""

from __future__ import annotations

from typing import Any

from dalgu.broker.model import BARE_VALUE, MEMBERS, NULL_URI, Entity, attribute_iris
from dalgu.broker.mutations import is_null
from dalgu.errors import BadRequestData


def refuse_nulls(entity: Entity, *, deletes: bool = False) -> None:
    """BadRequestData when an attribute of `entity` (an entity or a Fragment) holds a Null;
    `deletes`: an Update Attributes Fragment, whose Null attributes delete theirs, and whose
    Null sub-attributes are left out of the attribute that replaces the old one."""
    for iri in attribute_iris(entity):
        instances = entity[iri]
        for instance in instances if isinstance(instances, list) else [instances]:
            refuse_null_instance(iri, instance, deletes=deletes)
            if deletes and isinstance(instance, dict) and not is_null(instance):
                for member in [m for m, sub in instance.items() if _is_sub(m) and is_null(sub)]:
                    del instance[member]


def refuse_null_instance(iri: str, instance: Any, *, deletes: bool = False) -> None:
    """As `refuse_nulls`, for one attribute instance and its sub-attributes."""
    if not isinstance(instance, dict):
        return
    if is_null(instance) and not deletes:
        raise BadRequestData(
            f"attribute {iri}: the NGSI-LD Null ({NULL_URI}) deletes, and only in a partial "
            "update or a merge; it is no value of this operation (clause 5.5.4)"
        )
    if _null_key(instance.get("value")):
        raise BadRequestData(
            f"attribute {iri}: a key of its JSON object value is the NGSI-LD Null ({NULL_URI}), "
            "which deletes a key only in a merge (clause 5.5.4)"
        )
    for member, sub in instance.items():
        if _is_sub(member):
            refuse_null_instance(member, sub, deletes=deletes)


def _is_sub(member: str) -> bool:
    return member not in MEMBERS and member != BARE_VALUE


def _null_key(value: Any) -> bool:
    """Whether a JSON object in `value`, at any depth, has a key whose value is the Null."""
    if isinstance(value, dict):
        return any(v == NULL_URI or _null_key(v) for v in value.values())
    if isinstance(value, list):
        return any(_null_key(v) for v in value)
    return False
