"""Attribute instances of the temporal history, independent of the backend that stores them.

Every entity change becomes instance records: one per new or changed attribute instance and
one per deleted instance (a deletion record stamped with `deletedAt`), plus one for a deleted
scope. Both stores write these records in the transaction of the change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from dalgu.broker.model import VALUE_MEMBER, Entity, attribute_iris, null_of
from dalgu.errors import BadRequestData
from dalgu.jsonbytes import dumps

if TYPE_CHECKING:
    from dalgu.store.base import TemporalQuery

INSTANCE_PREFIX = "urn:ngsi-ld:Instance:"
#: the attribute name under which changes of an entity's scope are recorded
SCOPE = "scope"


class InstanceRecord(NamedTuple):
    """One attribute instance at one time. `at` is the time partitions and retention use:
    observedAt when the instance has one, else createdAt."""

    name: str
    dataset: str
    observed_at: datetime | None
    created_at: datetime
    modified_at: datetime
    deleted_at: datetime | None
    num: float | None
    txt: str | None
    geometry: dict[str, Any] | None
    doc: bytes

    @property
    def at(self) -> datetime:
        return self.observed_at or self.created_at


@lru_cache(maxsize=4096)  # a write's instances share their createdAt/modifiedAt/observedAt
def parse_time(text: str) -> datetime:
    """An ISO 8601 date-time as an aware UTC datetime (naive times are UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """A UTC date-time as NGSI-LD shows it: `2020-08-01T12:03:00Z`, milliseconds only when
    there are some."""
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"  # year 1 as 0001


def instance_id(iid: int) -> str:
    return f"{INSTANCE_PREFIX}{iid}"


def parse_instance_id(text: str) -> int | None:
    """The number of an instance id Dalgu gave out, or None for any other text."""
    suffix = text.removeprefix(INSTANCE_PREFIX)
    if suffix == text or not suffix.isdigit() or len(suffix) > 18:
        return None
    return int(suffix)


def instance_value(instance: dict[str, Any]) -> tuple[float | None, str | None, Any]:
    """(num, txt, geometry) of an instance as the history stores them."""
    kind = instance.get("type") or "Property"
    value = instance.get(VALUE_MEMBER.get(kind, "value"))
    num = None
    txt = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        num = float(value)
    elif value is not None:
        txt = value if isinstance(value, str) else orjson.dumps(value).decode()
    geometry = None
    if kind == "GeoProperty" and isinstance(instance.get("value"), dict):
        geometry = instance["value"]
    return num, txt, geometry


def record(name: str, instance: dict[str, Any], at: str, deleted: str | None) -> InstanceRecord:
    """The record of one instance; `at` stands in for missing createdAt/modifiedAt."""
    num, txt, geometry = instance_value(instance)
    observed = instance.get("observedAt")
    return InstanceRecord(
        name=name,
        dataset=instance.get("datasetId", ""),
        observed_at=parse_time(observed) if isinstance(observed, str) else None,
        created_at=parse_time(instance.get("createdAt") or at),
        modified_at=parse_time(instance.get("modifiedAt") or at),
        deleted_at=parse_time(deleted) if deleted else None,
        num=num,
        txt=txt,
        geometry=geometry,
        doc=dumps(instance),
    )


def change_records(before: Entity | None, after: Entity | None, at: str) -> list[InstanceRecord]:
    """The records an entity change leaves in the history."""
    return [record(n, i, at, deleted) for n, i, deleted in changed_instances(before, after, at)]


def changed_instances(
    before: Entity | None, after: Entity | None, at: str
) -> list[tuple[str, dict[str, Any], str | None]]:
    """(attribute, instance, deletedAt or None) of each instance an entity change records:
    every new or changed instance, a deletion record for each removed one, and the scope's.

    Attribute by attribute: an instance list the change shares with the stored state (a write
    copies the lists it changes and shares the others) is the same list, with nothing to
    record; instances are matched by datasetId within their attribute.
    """
    old_entity = before or {}
    new_entity = after or {}
    out: list[tuple[str, dict[str, Any], str | None]] = []
    for iri in attribute_iris(new_entity):
        instances = new_entity[iri]
        previous = old_entity.get(iri)
        if previous is instances:
            continue
        if not previous:
            out.extend((iri, instance, None) for instance in instances)
            continue
        if len(previous) == 1 and len(instances) == 1:
            old, new = previous[0], instances[0]
            if old.get("datasetId") == new.get("datasetId"):
                if old != new:
                    out.append((iri, new, None))
                continue
        by_dataset = {i.get("datasetId"): i for i in previous}
        out.extend(
            (iri, instance, None)
            for instance in instances
            if by_dataset.get(instance.get("datasetId")) != instance
        )
    for iri in attribute_iris(old_entity):
        instances = old_entity[iri]
        kept = new_entity.get(iri)
        if kept is instances:
            continue
        if (  # a reading: nothing removed
            kept
            and len(kept) == 1
            and len(instances) == 1
            and kept[0].get("datasetId") == instances[0].get("datasetId")
        ):
            continue
        datasets = {i.get("datasetId") for i in kept} if kept else set()
        for instance in instances:
            if instance.get("datasetId") not in datasets:
                out.append((iri, _deletion(instance, at), at))
    old_scope = old_entity.get("scope")
    new_scope = new_entity.get("scope")
    if new_scope and new_scope != old_scope:
        doc = {"type": "Property", "value": new_scope, "createdAt": at, "modifiedAt": at}
        out.append((SCOPE, doc, None))
    elif old_scope and not new_scope:
        gone = {"type": "Property", "value": [], "deletedAt": at, "createdAt": at, "modifiedAt": at}
        out.append((SCOPE, gone, at))
    return out


def _deletion(instance: dict[str, Any], at: str) -> dict[str, Any]:
    """The record of a removed instance: its type, the NGSI-LD Null as value, deletedAt."""
    kind = instance.get("type") or "Property"
    holder = VALUE_MEMBER.get(kind, "value")
    gone: dict[str, Any] = {
        "type": kind,
        holder: null_of(holder),
        "deletedAt": at,
    }
    if "datasetId" in instance:
        gone["datasetId"] = instance["datasetId"]
    gone["createdAt"] = at
    gone["modifiedAt"] = at
    return gone


class BucketSpans:
    """The [start, end] of each aggregation bucket of one query, formatted once: with a fixed
    origin every entity has the same buckets (1,000 sensors x 720 hours share 720 spans)."""

    def __init__(self, query: TemporalQuery) -> None:
        self.query = query
        self._spans: dict[tuple[datetime, int], list[str]] = {}

    def __call__(self, origin: datetime, last: datetime, index: int) -> list[str]:
        period = self.query.period
        if period is None or period.is_zero:
            return bucket_span(self.query, origin, last, index)
        key = (origin, index)
        span = self._spans.get(key)
        if span is None:
            span = self._spans[key] = bucket_span(self.query, origin, last, index)
        return span


def bucket_span(query: TemporalQuery, origin: datetime, last: datetime, index: int) -> list[str]:
    """[start, end] of aggregation bucket `index` counted from `origin` (clause 4.5.19)."""
    period = query.period
    if period is None or period.is_zero:
        end = last
        if query.timerel == "between" and query.end_time_at:
            end = parse_time(query.end_time_at)
        elif query.timerel == "before" and query.time_at:
            end = parse_time(query.time_at)
        return [format_time(origin), format_time(end)]
    return [format_time(period.after(origin, index)), format_time(period.after(origin, index + 1))]


def kept_instance(old_doc: bytes | str | None, new: dict[str, Any]) -> dict[str, Any]:
    """A modified instance (clause 5.6.14): its createdAt stays the old one's, and it keeps
    the old one's attribute type (a Property instance stays a Property: BadRequestData)."""
    old = orjson.loads(old_doc) if old_doc else {}
    kind, given = old.get("type", "Property"), new.get("type", "Property")
    if kind != given:
        raise BadRequestData(f"this instance is a {kind}, not a {given}: its type stays")
    return {**new, "createdAt": old.get("createdAt", new.get("createdAt"))}
