"""The FHIR service: every REST interaction, with consent checked and audited, independent of
HTTP. The edge resolves a `Principal` and parses the wire; this decides and records.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl

from dalgu.errors import (
    AccessDenied,
    AlreadyExists,
    BadRequestData,
    DalguError,
    MethodNotAllowed,
    PreconditionFailed,
    ResourceGone,
    ResourceNotFound,
)
from dalgu.fhir import decimals
from dalgu.fhir.audit import MINOR_FAILURE, SERIOUS_FAILURE, audit_event, audit_write
from dalgu.fhir.consent import ConsentPolicy, Grant
from dalgu.fhir.history import as_written, check_type, parse_body, stored_id
from dalgu.fhir.ids import new_id
from dalgu.fhir.includes import new_ones, referred, referring_searches
from dalgu.fhir.integrity import bind_none_match, check_references
from dalgu.fhir.model import (
    MAX_VERSION,
    SYSTEM,
    Principal,
    Resource,
    Role,
    StoredResource,
)
from dalgu.fhir.patch import apply_patch
from dalgu.fhir.preconditions import IfMatch, NoneMatch, bind_if_match
from dalgu.fhir.search import SearchQuery, named_patients, parse_search
from dalgu.fhir.searchparams import (
    compartment_patient,
    index_rows,
    split_reference,
    values_at,
)
from dalgu.fhir.validation import valid_id, validate
from dalgu.fhir.visibility import restrict
from dalgu.fhir.wire import json_text
from dalgu.store.base import FhirStore, FhirWrite

log = logging.getLogger("dalgu.fhir")
WriteListener = Callable[[list[StoredResource]], Awaitable[None]]


@dataclass(slots=True)
class SearchResult:
    query: SearchQuery
    matches: list[StoredResource]
    total: int | None
    included: list[StoredResource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the result leaves out, and why


class FhirService:
    def __init__(self, store: FhirStore, *, default_count: int = 20, max_count: int = 500):
        self.store = store
        self.default_count = default_count
        self.max_count = max_count
        self.policy = ConsentPolicy(self._consents)
        self.listeners: list[WriteListener] = []  # told of every committed write

    # --- consent and audit ------------------------------------------------------------

    async def _consents(
        self, patient: str | None, actor: str | None, role: str | None
    ) -> list[tuple[str | None, Resource]]:
        items = [("status", "active")]
        if patient is not None:
            items.append(("patient", patient))
        if actor is not None:
            items.append(("actor", actor))
        if role is not None:
            items.append(("actor-role", f"urn:dalgu:fhir:role|{role}"))
        query = parse_search("Consent", items, default_count=10_000, max_count=10_000)
        found, _ = await self.store.fhir_search(replace(query, total=False))
        return [(r.patient, parse_body(r.body)) for r in found]

    async def audit(self, principal: Principal, interaction: str, **details: Any) -> None:
        await self.store.fhir_write([audit_write(audit_event(principal, interaction, **details))])

    async def record_failure(
        self,
        principal: Principal,
        interaction: str,
        error: Exception,
        what: Sequence[str],
        patients: Sequence[str] = (),
    ) -> None:
        """The AuditEvent of a failed interaction: outcome 4 for a refused request, 8 for a
        failure of the server (any error that is not a `DalguError` below 500). A record that
        cannot be written (the store is down) is logged: the caller raises the first error."""
        if isinstance(error, DalguError) and error.status < 500:
            outcome, detail = MINOR_FAILURE, error.detail
        else:
            outcome = SERIOUS_FAILURE
            detail = error.detail if isinstance(error, DalguError) else type(error).__name__
            detail = f"server failure: {detail}"
        try:
            await self.audit(
                principal,
                interaction,
                outcome=outcome,
                detail=detail,
                what=what,
                patients=patients,
            )
        except Exception:
            log.exception("the AuditEvent of a failed %s could not be stored", interaction)

    async def authorize(
        self,
        principal: Principal,
        type_name: str,
        patient: str | None,
        *,
        write: bool,
        resource: Resource | None = None,
        new: bool = False,
    ) -> Grant:
        if principal.role == Role.DEVICE and write:
            return await self._device_write(principal, type_name, patient, resource)
        return await self.policy.authorize(principal, type_name, patient, write=write, new=new)

    async def _device_write(
        self,
        principal: Principal,
        type_name: str,
        patient: str | None,
        resource: Resource | None,
    ) -> Grant:
        """A device writes Observations that name it, about the patient it is linked to."""
        if type_name != "Observation" or resource is None:
            raise AccessDenied("a device writes Observations only")
        devices = [v.get("reference") for v in values_at(resource, "device") if isinstance(v, dict)]
        if principal.who not in devices:
            raise AccessDenied(f"the Observation's device is not {principal.who}")
        split = split_reference(principal.who)
        device = await self.store.fhir_read(*split) if split else None
        if patient is None:
            raise AccessDenied("the Observation names no Patient of this server as its subject")
        if device is None or device.deleted or device.patient is None or device.patient != patient:
            raise AccessDenied(f"{principal.who} is not linked to Patient/{patient}")
        return Grant("role")

    # --- reads ------------------------------------------------------------------------

    async def read(
        self,
        principal: Principal,
        type_name: str,
        resource_id: str,
        version: int | None = None,
        *,
        base: str | None = None,
    ) -> StoredResource:
        """The resource (version), audited; `base`, this server's URL, tells which patient an
        old version names (`history.as_written`)."""
        interaction = "read" if version is None else "vread"
        what = [f"{type_name}/{resource_id}"]
        patients: list[str] = []  # whose record it is, also when the read is refused
        try:
            found, grant = await self.readable(
                principal, type_name, resource_id, version, patients=patients, base=base
            )
        except Exception as error:  # recorded, then raised as it came
            await self.record_failure(principal, interaction, error, what, patients)
            raise
        await self.audit(
            principal, interaction, what=what, patients=patients, broke_glass=grant.broke_glass
        )
        return found

    async def readable(
        self,
        principal: Principal,
        type_name: str,
        resource_id: str,
        version: int | None = None,
        *,
        patients: list[str] | None = None,
        base: str | None = None,
    ) -> tuple[StoredResource, Grant]:
        """The resource (version) `principal` may read, and why; the error a read would
        answer otherwise (404, 403, 410). Nothing is audited: `read` does that. `patients`
        is given the resource's patient, also when the read is refused."""
        check_type(type_name)
        found = None
        # a version beyond what the store can hold names none (and is not sent to it)
        if stored_id(resource_id) and (version is None or 0 < version <= MAX_VERSION):
            found = await self.store.fhir_read(type_name, resource_id, version)
        if found is None:
            raise ResourceNotFound(
                f"{type_name}/{resource_id}"
                f"{'' if version is None else f' version {version}'} does not exist"
            )
        if version is not None:
            found = await as_written(self.store, found, base)
        if found.patient and patients is not None:
            patients.append(found.patient)
        grant = await self.authorize(principal, type_name, found.patient, write=False)
        if found.deleted:
            raise ResourceGone(f"{type_name}/{resource_id} was deleted (version {found.version})")
        return found, grant

    async def searchable(
        self, principal: Principal, query: SearchQuery, *, run: bool = False
    ) -> None:
        """Raise what `search` would for this query and principal (403 for another
        patient's records); `run` runs its SQL too (what the store would raise: a query
        too costly, a failure). Nothing is audited, and the matches are not kept."""
        restricted, _ = await self._restrict(principal, query)
        if run:
            await self.store.fhir_search(restricted)

    def count_of(self, count: int | None) -> int:
        """A history page's size: more than the largest page is served as that page, as a
        search's (http.html history: the server "cannot return more" than `_count`)."""
        if count is None:
            return self.default_count
        if count < 0:
            raise BadRequestData("_count must not be negative")
        return min(count, self.max_count)

    def parse_search(
        self,
        type_name: str,
        items: list[tuple[str, str]],
        *,
        lenient: bool = False,
        base: str | None = None,
    ) -> SearchQuery:
        check_type(type_name)
        return parse_search(
            type_name,
            items,
            default_count=self.default_count,
            max_count=self.max_count,
            lenient=lenient,
            base=base,
        )

    async def search(
        self, principal: Principal, query: SearchQuery, *, text: str = ""
    ) -> SearchResult:
        # the query, the patients it names and those found say what was searched
        named = sorted(named_patients(query))
        notes: list[str] = []
        try:
            query, broke_glass = await self._restrict(principal, query)
            matches, total = await self.store.fhir_search(query)
            included = await referred(self.store, query, matches)
            for search in referring_searches(query, matches, self.max_count):
                try:
                    search, glass = await self._restrict(principal, search)
                except AccessDenied:
                    continue  # none of them this caller may see: the matches stand alone
                broke_glass = broke_glass or glass
                referring, _ = await self.store.fhir_search(search)
                included += new_ones(referring, matches, included)
                if len(referring) >= search.count:
                    notes.append(
                        f"_revinclude of {search.type} stopped at {search.count} resources:"
                        " there may be more (search them by their reference parameter)"
                    )
        except Exception as error:  # recorded, then raised as it came
            await self.record_failure(principal, "search-type", error, [], named)
            raise
        found = (m.patient for m in [*matches, *included] if m.patient)
        patients = list(dict.fromkeys([*named, *found]))[:100]
        await self.audit(
            principal,
            "search-type",
            patients=patients,
            query=text or None,
            broke_glass=broke_glass,
        )
        return SearchResult(query, matches, total, included, notes)

    async def _restrict(self, principal: Principal, query: SearchQuery) -> tuple[SearchQuery, bool]:
        """The query limited to what `principal` may see, and whether it broke the glass."""
        return await restrict(self.policy, principal, query)

    # --- writes -----------------------------------------------------------------------

    def prepare(
        self,
        type_name: str,
        body: Any,
        resource_id: str | None,
        *,
        if_match: int | None = None,
        create: bool = False,
        base: str | None = None,
    ) -> FhirWrite:
        """A validated write of `body` as `type_name`. A create gets `resource_id` (or a new
        id) whatever id the body has; an update must carry the id of its URL. `base`, this
        server's URL, makes absolute references under it references to its resources (in
        the indexes and the patient compartment); other absolute URLs are other servers'."""
        check_type(type_name)
        if type_name == "AuditEvent":
            raise MethodNotAllowed("AuditEvents are written by the server only", allow="GET, HEAD")
        resource = validate(type_name, body)
        if create:
            resource = {**resource, "id": resource_id or new_id()}
        else:
            if resource_id is None or not valid_id(resource_id):
                raise BadRequestData(f"{json_text(resource_id)} is not a FHIR id")
            if resource.get("id") is None:
                raise BadRequestData(
                    f"the resource has no id: an update carries its URL's, {resource_id}"
                )
            if resource.get("id") != resource_id:
                given = json_text(resource.get("id"))
                raise BadRequestData(f"the resource's id {given} is not the URL's {resource_id}")
        return FhirWrite(
            type_name,
            resource["id"],
            resource,
            index_rows(resource, base),
            compartment_patient(resource, base),
            if_match=if_match,
            must_create=create,
        )

    async def authorize_write(self, principal: Principal, write: FhirWrite) -> FhirWrite:
        """Check a prepared write (and, for an update or delete, the stored resource's
        patient, which may differ); the write to store. One allowed because it creates a
        new resource (a clinician registering a patient) is bound to create only, so that
        it cannot become an update of a resource created meanwhile."""
        if write.type == "AuditEvent":
            raise MethodNotAllowed("AuditEvents cannot be changed or deleted", allow="GET, HEAD")
        current = None if write.must_create else await self.store.fhir_read(write.type, write.id)
        new = write.resource is not None and (write.must_create or current is None)
        grant = await self.authorize(
            principal, write.type, write.patient, write=True, resource=write.resource, new=new
        )
        if grant.via == "registration":
            return replace(write, must_create=True)
        if current is not None and not current.deleted and current.patient != write.patient:
            await self.authorize(
                principal, write.type, current.patient, write=True, resource=write.resource
            )
        return write

    async def commit(
        self, principal: Principal, interaction: str, writes: list[FhirWrite]
    ) -> list[StoredResource]:
        """Store authorized writes and their AuditEvent in one transaction."""
        patients = list(dict.fromkeys(w.patient for w in writes if w.patient))
        event = audit_event(
            principal, interaction, what=[f"{w.type}/{w.id}" for w in writes], patients=patients
        )
        stored = await self.store.fhir_write([*writes, audit_write(event)])
        results = stored[: len(writes)]
        for listener in self.listeners:
            try:
                await listener(results)
            except Exception:  # the write is committed: its answer must say so
                log.exception("a listener of FHIR writes failed")
        return results

    async def create(
        self,
        principal: Principal,
        type_name: str,
        body: Any,
        *,
        if_none_exist: str | None = None,
        base: str | None = None,
    ) -> StoredResource:
        """A new resource; with `if_none_exist` (a search, FHIR conditional create) the one
        resource it already matches instead (its `created` False), 412 if it matches more.
        `base`, the server's URL, makes absolute references to it checked too."""
        if if_none_exist is None:
            return await self._write(principal, "create", type_name, body, None, base=base)
        try:
            write = self.prepare(type_name, body, None, create=True, base=base)
            write = await self.authorize_write(principal, write)
            found = await self.existing(principal, type_name, if_none_exist, base=base)
            if found is None:
                await check_references(self.store, write, base=base)
                (stored,) = await self.commit(principal, "create", [write])
                return stored
        except Exception as error:  # recorded, then raised as it came
            await self.record_failure(principal, "create", error, [])
            raise
        await self.audit(
            principal,
            "create",
            detail=f"If-None-Exist {if_none_exist!r} matched {found.reference}: not created",
            what=[found.reference],
            patients=[found.patient] if found.patient else [],
        )
        return found

    async def existing(
        self,
        principal: Principal,
        type_name: str,
        condition: str,
        *,
        label: str = "If-None-Exist",
        base: str | None = None,
    ) -> StoredResource | None:
        """The one current resource the search `condition` (`identifier=x|y`) matches among
        those `principal` may see; None if none, 412 if several (FHIR conditional create;
        `label` names the condition in errors)."""
        items = parse_qsl(condition.removeprefix("?"), keep_blank_values=True)
        if not items:
            raise BadRequestData(f"{label} names no search parameter")
        query = self.parse_search(type_name, items, base=base)
        query = replace(query, count=2, offset=0, total=False, only_count=False, includes=())
        query, _ = await self._restrict(principal, query)
        found, _ = await self.store.fhir_search(query)
        if len(found) > 1:
            raise PreconditionFailed(f"{label} {condition!r} matches more than one {type_name}")
        return found[0] if found else None

    async def update(
        self,
        principal: Principal,
        type_name: str,
        resource_id: str,
        body: Any,
        *,
        if_match: IfMatch = None,
        if_none_match: NoneMatch | None = None,
        base: str | None = None,
    ) -> StoredResource:
        """The resource stored as `resource_id`'s next version (or its first: 201).
        `if_match` is the version it must replace (`*`: whichever is current, 412 if none);
        `if_none_match` what it must not (`*`: create only), else 412."""
        return await self._write(
            principal,
            "update",
            type_name,
            body,
            resource_id,
            if_match,
            if_none_match,
            base=base,
        )

    async def patch(
        self,
        principal: Principal,
        type_name: str,
        resource_id: str,
        media: str | None,
        document: Any,
        *,
        if_match: IfMatch = None,
        base: str | None = None,
    ) -> StoredResource:
        """A patch (`patch.apply_patch`: a JSON Patch or a merge patch, by `media`) applied to
        the current version, which must still be current when the result is stored (a
        concurrent change is a 412, never a lost update)."""
        what = [f"{type_name}/{resource_id}"]
        try:
            current = await self._changeable(type_name, resource_id)
            if_match = bind_if_match(if_match, current, what[0])
            # a patch reads what it changes (a `test` operation tells its caller): reading it
            # must be allowed too
            await self.authorize(principal, type_name, current.patient, write=False)
            if current.deleted:
                raise ResourceGone(f"{what[0]} was deleted (version {current.version})")
            if if_match is not None and if_match != current.version:
                raise PreconditionFailed(
                    f"{what[0]} is at version {current.version}, not {if_match}"
                )
            patched = apply_patch(decimals.loads(current.body or b"{}"), media, document)
            write = self.prepare(
                type_name, patched, resource_id, if_match=current.version, base=base
            )
            write = await self.authorize_write(principal, write)
            await check_references(self.store, write, base=base)
            (stored,) = await self.commit(principal, "patch", [write])
        except Exception as error:  # recorded, then raised as it came
            await self.record_failure(principal, "patch", error, what)
            raise
        return stored

    async def _write(
        self,
        principal: Principal,
        interaction: str,
        type_name: str,
        body: Any,
        resource_id: str | None,
        if_match: IfMatch = None,
        if_none_match: NoneMatch | None = None,
        *,
        base: str | None = None,
    ) -> StoredResource:
        what = [] if resource_id is None else [f"{type_name}/{resource_id}"]
        try:
            version = None
            if resource_id is not None:
                version = await self.resolve_if_match(type_name, resource_id, if_match)
            write = self.prepare(
                type_name,
                body,
                resource_id,
                if_match=version,
                create=resource_id is None,
                base=base,
            )
            write = await self.authorize_write(principal, write)
            await check_references(self.store, write, base=base)
            if if_none_match is not None:
                write = await bind_none_match(self.store, write, if_none_match)
            try:
                (stored,) = await self.commit(principal, interaction, [write])
            except AlreadyExists as error:  # created by another request since the check
                if if_none_match is None:
                    raise
                raise PreconditionFailed(f"{error.detail}: If-None-Match: * creates only") from None
        except Exception as error:  # recorded, then raised as it came
            await self.record_failure(principal, interaction, error, what)
            raise
        return stored

    async def delete(
        self, principal: Principal, type_name: str, resource_id: str, *, if_match: IfMatch = None
    ) -> StoredResource:
        what = [f"{type_name}/{resource_id}"]
        try:
            write = await self.prepare_delete(principal, type_name, resource_id, if_match)
            (stored,) = await self.commit(principal, "delete", [write])
        except Exception as error:  # recorded, then raised as it came
            await self.record_failure(principal, "delete", error, what)
            raise
        return stored

    async def prepare_delete(
        self, principal: Principal, type_name: str, resource_id: str, if_match: IfMatch
    ) -> FhirWrite:
        current = await self._changeable(type_name, resource_id)
        await self.authorize(principal, type_name, current.patient, write=True)
        version = bind_if_match(if_match, current, f"{type_name}/{resource_id}")
        return FhirWrite(type_name, resource_id, None, None, current.patient, if_match=version)

    async def resolve_if_match(
        self, type_name: str, resource_id: str, if_match: IfMatch
    ) -> int | None:
        """The version an update must replace (`bind_if_match`: `*` as the current one)."""
        if if_match != "*":
            return if_match
        current = (
            await self.store.fhir_read(type_name, resource_id) if stored_id(resource_id) else None
        )
        return bind_if_match(if_match, current, f"{type_name}/{resource_id}")

    async def _changeable(self, type_name: str, resource_id: str) -> StoredResource:
        """The stored resource a patch or delete changes (deleted ones included); 404 if there
        is none, 405 for an AuditEvent."""
        check_type(type_name)
        if type_name == "AuditEvent":
            raise MethodNotAllowed("AuditEvents cannot be changed or deleted", allow="GET, HEAD")
        current = None
        if stored_id(resource_id):
            current = await self.store.fhir_read(type_name, resource_id)
        if current is None:
            raise ResourceNotFound(f"{type_name}/{resource_id} does not exist")
        return current

    # --- for other services in this process -------------------------------------------

    async def write_as_system(self, writes: list[FhirWrite]) -> list[StoredResource]:
        """Writes of the server itself (the wearable recorder), audited as the system."""
        return await self.commit(SYSTEM, "create", writes)
