"""Checks of a write against what the store holds: referential integrity (every reference to
a resource of this server names one that exists) and `If-None-Match`. The pure parts are in
`references` and `preconditions`; these read the store.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

import orjson

from dalgu.errors import BadRequestData, InvalidResource
from dalgu.fhir.model import version_number
from dalgu.fhir.preconditions import NoneMatch
from dalgu.fhir.references import literal_references, local_problems, placeholders
from dalgu.store.base import FhirStore, FhirWrite


async def check_references(
    store: FhirStore,
    write: FhirWrite,
    *,
    base: str | None = None,
    written: Collection[tuple[str, str]] = (),
    deleted: Collection[tuple[str, str]] = (),
) -> None:
    """400 for a `urn:uuid:` reference (a transaction has replaced those it resolves);
    422 naming each element whose reference names nothing: a resource of this server
    (`Type/id`, or under `base`) that is not there, or a `#id` that is not contained
    (referential integrity on write, as HAPI FHIR has by default). A transaction passes
    what it `written` (those exist once it is stored) and `deleted` (those do not).

    An update is checked for the references it adds: one its current version already
    makes stands, even if its target has been deleted since (deleting a resource others
    refer to is allowed), so that a record whose patient was deleted can still be
    corrected or marked `entered-in-error`."""
    if write.resource is None:
        return
    unresolved = placeholders(write.resource)
    if unresolved:  # 400, as HAPI FHIR answers
        issues = [
            f"{text} names no entry of a transaction Bundle (a urn:uuid reference is resolved"
            " only against the fullUrl of an entry of the transaction that carries it)"
            for text in unresolved
        ]
        raise BadRequestData("; ".join(issues), issues=issues)
    problems = local_problems(write.resource)
    kept = await _kept_references(store, write, base)
    targets = [
        r
        for r in literal_references(write.resource, base)
        if (r.type, r.id) != (write.type, write.id) and (r.type, r.id, r.version) not in kept
    ]
    current = [
        (r.type, r.id) for r in targets if r.version is None and (r.type, r.id) not in written
    ]
    found = {(f.type, f.id) for f in await store.fhir_read_many(current)} if current else set()
    for r in targets:
        key = (r.type, r.id)
        if key in deleted:
            problems.append(f"{r.element}: {r.text} is deleted by this transaction")
        elif r.version is not None:
            version = version_number(r.version)  # None: it names no version there can be
            stored = None if version is None else await store.fhir_read(*key, version)
            if stored is None or stored.deleted:
                problems.append(f"{r.element}: {r.text} is no version of a resource here")
        elif key not in written and key not in found:
            problems.append(f"{r.element}: {r.text} does not exist on this server (or is deleted)")
    if problems:
        raise InvalidResource("; ".join(problems), issues=problems)


async def _kept_references(
    store: FhirStore, write: FhirWrite, base: str | None
) -> set[tuple[str, str, str | None]]:
    """The (type, id, version) references of the resource's current version, for an
    update; none for a create."""
    if write.must_create:
        return set()
    current = await store.fhir_read(write.type, write.id)
    if current is None or current.deleted or not current.body:
        return set()
    before = orjson.loads(current.body)
    return {(r.type, r.id, r.version) for r in literal_references(before, base)}


async def bind_none_match(store: FhirStore, write: FhirWrite, none_match: NoneMatch) -> FhirWrite:
    """412 when the current version makes `If-None-Match` false; else the write, bound
    to what was checked so that a concurrent change fails it in the store: a new
    resource as a create only (the store refuses a taken id), an existing or deleted one
    as a change of the version found (412 if it is no longer current)."""
    current = await store.fhir_read(write.type, write.id)
    none_match.check(current)
    if current is None:
        return replace(write, must_create=True)
    if write.if_match is None:
        return replace(write, if_match=current.version)
    return write
