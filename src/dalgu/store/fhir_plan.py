"""What a batch of FHIR writes does to the stored versions, for both SQL stores.

Given the current (rid, version, deleted) of the resources a transaction touches, `plan`
decides each write's new version, checks `If-Match` and create-only preconditions, and
renders the body with its `meta`; the store then applies the plan in its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dalgu.errors import AlreadyExists, BadRequestData, PreconditionFailed, ResourceNotFound
from dalgu.fhir import decimals
from dalgu.fhir.model import StoredResource, instant
from dalgu.store.base import FhirWrite


@dataclass(frozen=True, slots=True)
class Current:
    rid: int
    version: int
    deleted: bool


@dataclass(slots=True)
class Planned:
    write: FhirWrite
    rid: int | None  # None: a new row in fhir_resources
    stored: StoredResource
    writes_version: bool  # False: deleting what is already deleted changes nothing


def now() -> tuple[str, float]:
    moment = datetime.now(UTC)
    return instant(moment), moment.timestamp()


def plan(
    writes: Sequence[FhirWrite], current: dict[tuple[str, str], Current], last_updated: str
) -> list[Planned]:
    out: list[Planned] = []
    seen: set[tuple[str, str]] = set()
    for w in writes:
        key = (w.type, w.id)
        if key in seen:
            raise BadRequestData(f"{w.type}/{w.id} is written twice in one transaction")
        seen.add(key)
        cur = current.get(key)
        name = f"{w.type}/{w.id}"
        if cur is not None and w.if_match is not None and w.if_match != cur.version:
            raise PreconditionFailed(
                f"{name} is at version {cur.version}, not {w.if_match} (If-Match)"
            )
        if w.resource is None:
            if cur is None:
                raise ResourceNotFound(f"{name} does not exist")
            if cur.deleted:
                stored = StoredResource(w.type, w.id, cur.version, last_updated, True, None)
                out.append(Planned(w, cur.rid, stored, False))
                continue
            version = cur.version + 1
            stored = StoredResource(w.type, w.id, version, last_updated, True, None, w.patient)
        else:
            if cur is None and w.if_match is not None:
                raise PreconditionFailed(f"{name} does not exist (If-Match)")
            if cur is not None and w.must_create and not cur.deleted:
                raise AlreadyExists(f"{name} already exists")
            version = 1 if cur is None else cur.version + 1
            resource = dict(w.resource)
            meta = dict(resource.get("meta") or {})
            meta["versionId"] = str(version)
            meta["lastUpdated"] = last_updated
            resource["meta"] = meta
            resource["id"] = w.id
            created = cur is None or cur.deleted
            body = decimals.dumps(resource)
            stored = StoredResource(
                w.type, w.id, version, last_updated, False, body, w.patient, created
            )
        out.append(Planned(w, None if cur is None else cur.rid, stored, True))
        current[key] = Current(cur.rid if cur else -1, version, w.resource is None)
    return out
