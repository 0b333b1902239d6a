"""Bundle `batch` and `transaction` (FHIR R4 3.1.0.11).

A batch runs each entry on its own, as if it were its own request, and answers each entry
with its outcome. A transaction is all or nothing: every write is validated and authorized
first, POST entries are given their server ids and the links to their fullUrls rewritten
(references, uri elements, narrative links: `bundle_references`), then all writes (and the
transaction's AuditEvent) are stored in one database transaction; reads (GET entries) run
after the writes. Any failing entry fails the whole transaction, and nothing is stored: a
GET entry is checked before the writes are stored too (its search parameters, the caller's
right to read, a resource that exists or that this transaction writes; a search is run
once), so a read that would fail fails the transaction. A failure of the server before the
commit stores nothing either; in a batch it fails its entry alone. A read can still fail
after the writes are stored only if another request changed what it reads in between (a
resource deleted, a Consent withdrawn); that entry then answers its own error in the
response.

A reference of the form `Type?search` in a transaction's resources (a conditional reference,
R4 3.1.0.11.3) is resolved by that search among the resources the caller may see: one match,
the reference becomes `Type/id`; none (404) or several (412), the transaction fails.

A POST entry with `request.ifNoneExist` (conditional create) is searched first: no match, it
is created; one match, nothing is written for it, its response is `200 OK` with the resource
found, and references to its fullUrl are rewritten to that resource; more than one, the
transaction fails with 412. The search and the writes are not one atomic step: two
transactions racing with the same condition may both create.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dalgu import __version__
from dalgu.errors import (
    BadRequestData,
    DalguError,
    PreconditionFailed,
    ResourceGone,
    ResourceNotFound,
)
from dalgu.fhir.bundle_references import BundleLinks, entry_root
from dalgu.fhir.capability import capability_statement
from dalgu.fhir.ids import new_id
from dalgu.fhir.integrity import bind_none_match, check_references
from dalgu.fhir.model import Principal, Resource, StoredResource
from dalgu.fhir.preconditions import (
    IfMatch,
    NoneMatch,
    parse_if_match,
    parse_none_match,
    read_none_match,
)
from dalgu.fhir.render import body_of, operation_outcome, searchset, write_response
from dalgu.fhir.service import FhirService
from dalgu.fhir.subsetting import parse_subset
from dalgu.store.base import FhirWrite

log = logging.getLogger("dalgu.fhir")
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE")
READS = ("GET", "HEAD")  # HEAD: a GET whose entry carries no resource
METADATA = "metadata"  # `GET metadata`: the CapabilityStatement

#: a conditional reference: a resource type and a search (`Patient?identifier=x|y`)
_CONDITIONAL = re.compile(r"([A-Z][A-Za-z]+)\?(.+)")


@dataclass(slots=True)
class Entry:
    index: int
    method: str
    type: str
    id: str | None
    version: int | None
    params: list[tuple[str, str]]
    resource: Any
    full_url: str | None
    if_match: IfMatch
    if_none_exist: str | None = None  # POST: conditional create (request.ifNoneExist)
    #: request.ifNoneMatch: of a PUT, `*` creates only; of a read, 304 when it names the version
    if_none_match: NoneMatch | None = None


def _entry(index: int, raw: Any, base: str) -> Entry:
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
        raise BadRequestData(f"entry {index}: each entry needs a request")
    request = raw["request"]
    method, url = request.get("method"), request.get("url")
    if method not in METHODS or not isinstance(url, str) or not url:
        raise BadRequestData(
            f"entry {index}: request.method is one of {', '.join(METHODS)}, with a url"
        )
    if url.startswith(base):
        url = url[len(base) :]
    parts = urlsplit(url.lstrip("/"))
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        raise BadRequestData(f"entry {index}: request.url {url!r} names no resource type")
    version = None
    vid = segments[3] if len(segments) == 4 and segments[2] == "_history" else ""
    if vid.isascii() and vid.isdigit():
        version = int(vid)  # one beyond what the store holds names none: a read says 404
    elif len(segments) > 2:
        raise BadRequestData(f"entry {index}: request.url {url!r} is not supported")
    full_url = raw.get("fullUrl")
    if_none_exist = request.get("ifNoneExist")
    if if_none_exist is not None and (method != "POST" or not isinstance(if_none_exist, str)):
        raise BadRequestData(f"entry {index}: request.ifNoneExist is a search, on a POST only")
    if_none_match = request.get("ifNoneMatch")
    if if_none_match is not None and (
        method not in ("PUT", *READS) or not isinstance(if_none_match, str)
    ):
        raise BadRequestData(
            f"entry {index}: request.ifNoneMatch is an ETag or *, on a PUT (create only, or"
            " not that version) or a read (304 Not Modified when it names the version)"
        )
    none_match = (
        read_none_match(if_none_match) if method in READS else parse_none_match(if_none_match)
    )
    return Entry(
        index,
        method,
        segments[0],
        segments[1] if len(segments) > 1 else None,
        version,
        parse_qsl(parts.query, keep_blank_values=True),
        raw.get("resource"),
        full_url if isinstance(full_url, str) else None,
        parse_if_match(request.get("ifMatch")),
        if_none_exist,
        none_match,
    )


def _check_full_urls(raw: list[Any]) -> None:
    """400 for two entries with the same `fullUrl` (and the same `meta.versionId`, which
    may tell versions of one resource apart): bdl-7, and references to it would be
    ambiguous."""
    first: dict[tuple[str, Any], int] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("fullUrl"), str):
            continue
        resource = item.get("resource")
        meta = resource.get("meta") if isinstance(resource, dict) else None
        version = meta.get("versionId") if isinstance(meta, dict) else None
        key = (item["fullUrl"], version if isinstance(version, str) else None)
        if key in first:
            raise BadRequestData(
                f"entry {index}: fullUrl {item['fullUrl']!r} is that of entry {first[key]} too:"
                " the fullUrls of a Bundle's entries are unique (bdl-7)"
            )
        first[key] = index


def _in_entry(error: DalguError, index: int) -> DalguError:
    """The error, its detail and its issues saying which entry it is about."""
    prefix = f"entry {index}: "
    if not error.detail.startswith(prefix):
        error.detail = prefix + error.detail
    issues = error.extra.get("issues")
    if isinstance(issues, list):
        error.extra["issues"] = [
            text if str(text).startswith(prefix) else prefix + str(text) for text in issues
        ]
    return error


def _references(value: Any) -> list[str]:
    """Every `reference` string in a resource."""
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        for member in value.values():
            found += _references(member)
        return found
    if isinstance(value, list):
        return [ref for member in value for ref in _references(member)]
    return []


class BundleProcessor:
    def __init__(self, service: FhirService, base: str, prefer: str = "representation") -> None:
        self.service = service
        self.base = base
        #: `Prefer: return=` of the request, for each write entry (http.html#transaction):
        #: `representation`, `minimal` (no resource) or `OperationOutcome` (response.outcome)
        self.prefer = prefer

    async def process(self, principal: Principal, body: Any) -> Resource:
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            raise BadRequestData("POST to the base takes a Bundle")
        kind = body.get("type")
        if kind not in ("batch", "transaction"):
            raise BadRequestData("a Bundle posted to the base is of type batch or transaction")
        raw = body.get("entry") or []
        if not isinstance(raw, list):
            raise BadRequestData("Bundle.entry must be an array")
        _check_full_urls(raw)
        if kind == "batch":
            entries = []
            for i, item in enumerate(raw):
                try:
                    entries.append(await self._one(principal, _entry(i, item, self.base)))
                except DalguError as error:
                    entries.append(_failure(error))
                except Exception:  # this entry's own failure: the others stand (R4 3.1.0.11)
                    log.exception("batch entry %d failed", i)
                    entries.append(_failure(DalguError(f"entry {i}: the server failed on it")))
            return _response("batch-response", entries)
        return await self._transaction(
            principal, [_entry(i, e, self.base) for i, e in enumerate(raw)]
        )

    async def _one(self, principal: Principal, e: Entry) -> dict[str, Any]:
        s = self.service
        if e.method in READS:
            return await self._read(principal, e)
        if e.method == "POST":
            if e.id is not None:
                raise BadRequestData(f"entry {e.index}: POST goes to a type, not an instance")
            stored = await s.create(
                principal, e.type, e.resource, if_none_exist=e.if_none_exist, base=self.base
            )
            return self._written(stored, 201 if stored.created else 200)
        if e.id is None:
            raise BadRequestData(f"entry {e.index}: {e.method} needs [type]/[id]")
        if e.method == "PUT":
            stored = await s.update(
                principal,
                e.type,
                e.id,
                e.resource,
                if_match=e.if_match,
                if_none_match=e.if_none_match,
                base=self.base,
            )
            return self._written(stored, 201 if stored.created else 200)
        stored = await s.delete(principal, e.type, e.id, if_match=e.if_match)
        return {"response": write_response(stored, self.base, status=204)}

    async def _read(self, principal: Principal, e: Entry) -> dict[str, Any]:
        """A GET entry's answer; a HEAD entry's is the same without its resource."""
        found = await self._get(principal, e)
        if e.method == "HEAD":
            found.pop("resource", None)
        return found

    async def _get(self, principal: Principal, e: Entry) -> dict[str, Any]:
        if e.type == METADATA and e.id is None:
            capabilities = capability_statement(self.base, __version__)
            return {"resource": capabilities, "response": {"status": "200 OK"}}
        if e.id is None:
            query = self.service.parse_search(e.type, e.params, base=self.base)
            result = await self.service.search(principal, query)
            found = searchset(
                self.base,
                e.type,
                e.params,
                result.matches,
                result.included,
                result.total,
                query.count,
                query.offset,
                result.notes,
                query.subset,
            )
            return {"resource": found, "response": {"status": "200 OK"}}
        params = dict(e.params)
        subset = parse_subset(e.type, params.get("_summary"), params.get("_elements"))
        stored = await self.service.read(principal, e.type, e.id, e.version, base=self.base)
        if e.if_none_match is not None and e.if_none_match.names(stored):
            return {  # R4 Bundle.entry.request.ifNoneMatch: a conditional read
                "response": {
                    "status": "304 Not Modified",
                    "etag": stored.etag,
                    "lastModified": stored.last_updated,
                }
            }
        return {
            "resource": body_of(stored, subset),
            "response": {
                "status": "200 OK",
                "etag": stored.etag,
                "lastModified": stored.last_updated,
            },
        }

    def _written(self, stored: StoredResource, status: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"fullUrl": f"{self.base}/{stored.type}/{stored.id}"}
        response = write_response(stored, self.base, status=status)
        if self.prefer == "representation":
            entry["resource"] = body_of(stored)
        elif self.prefer == "OperationOutcome":
            information = f"{stored.reference} version {stored.version}"
            response["outcome"] = operation_outcome(None, information=information)
        entry["response"] = response
        return entry

    async def _transaction(self, principal: Principal, entries: list[Entry]) -> Resource:
        s = self.service
        ids: dict[str, str] = {}
        assigned: dict[int, str] = {}
        matched: dict[int, StoredResource] = {}  # conditional creates that found theirs
        writes: list[tuple[Entry, FhirWrite]] = []
        try:
            for e in entries:
                if e.method == "POST":
                    if e.id is not None:
                        raise BadRequestData(
                            f"entry {e.index}: POST goes to a type, not an instance"
                        )
                    found = await self._existing(principal, e)
                    if found is not None:  # references to its fullUrl mean the one found
                        matched[e.index] = found
                        if e.full_url:
                            ids[e.full_url] = found.reference
                        continue
                    assigned[e.index] = new_id()
                    if e.full_url:
                        ids[e.full_url] = f"{e.type}/{assigned[e.index]}"
                elif e.method in ("PUT", "DELETE") and e.id is None:
                    raise BadRequestData(f"entry {e.index}: {e.method} needs [type]/[id]")
                elif e.method == "PUT" and e.full_url:
                    ids[e.full_url] = f"{e.type}/{e.id}"
            await self._resolve_conditional(principal, entries, matched, ids)
            for e in entries:
                if e.method in READS or e.index in matched:
                    continue
                write = await self._prepare(principal, e, assigned, ids)
                writes.append((e, write))
            await self._check_references(writes)
            await self._check_reads(principal, entries, [w for _, w in writes])
            stored = (
                await s.commit(principal, "transaction", [w for _, w in writes]) if writes else []
            )
        except Exception as error:  # nothing is stored: recorded, then raised as it came
            await s.record_failure(principal, "transaction", error, [])
            raise
        by_index = {e.index: r for (e, _), r in zip(writes, stored, strict=True)} | matched
        out = []
        for e in entries:
            if e.method in READS:
                try:
                    out.append(await self._read(principal, e))
                except DalguError as error:  # changed by another request since the check
                    out.append(_failure(_in_entry(error, e.index)))
                except Exception:  # the writes are committed: the answer must say so
                    log.exception("transaction entry %d failed after the commit", e.index)
                    failed = DalguError(f"entry {e.index}: the server failed on this read")
                    out.append(_failure(failed))
                continue
            result = by_index[e.index]
            if e.method == "DELETE":
                out.append({"response": write_response(result, self.base, status=204)})
            else:
                out.append(self._written(result, 201 if result.created else 200))
        return _response("transaction-response", out)

    async def _existing(self, principal: Principal, e: Entry) -> StoredResource | None:
        """What a conditional create entry matches already, among what `principal` may see
        (the write itself is authorized with the others, if it happens)."""
        if e.if_none_exist is None:
            return None
        try:
            return await self.service.existing(principal, e.type, e.if_none_exist, base=self.base)
        except DalguError as error:
            raise _in_entry(error, e.index) from None

    async def _resolve_conditional(
        self,
        principal: Principal,
        entries: list[Entry],
        matched: dict[int, StoredResource],
        ids: dict[str, str],
    ) -> None:
        """Each conditional reference (`Patient?identifier=x|y`) of the entries to be written
        mapped in `ids` to the one resource its search finds."""
        for e in entries:
            if e.method not in ("POST", "PUT") or e.index in matched:
                continue
            for reference in _references(e.resource):
                found = _CONDITIONAL.fullmatch(reference)
                if found is None or reference in ids:
                    continue
                try:
                    target = await self.service.existing(
                        principal,
                        found[1],
                        found[2],
                        label="the conditional reference",
                        base=self.base,
                    )
                    if target is None:
                        raise ResourceNotFound(
                            f"the conditional reference {reference!r} matches no {found[1]}"
                        )
                except DalguError as error:
                    raise _in_entry(error, e.index) from None
                ids[reference] = target.reference

    async def _check_references(self, writes: list[tuple[Entry, FhirWrite]]) -> None:
        """Referential integrity of the transaction's writes: what it writes exists once
        it is stored, what it deletes does not."""
        written = {(w.type, w.id) for _, w in writes if w.resource is not None}
        deleted = {(w.type, w.id) for _, w in writes if w.resource is None}
        for e, write in writes:
            try:
                await check_references(
                    self.service.store, write, base=self.base, written=written, deleted=deleted
                )
            except DalguError as error:
                raise _in_entry(error, e.index) from None

    async def _check_reads(
        self, principal: Principal, entries: list[Entry], writes: list[FhirWrite]
    ) -> None:
        """Each GET entry checked before the writes are stored: the error it would answer
        after them fails the transaction now, while nothing is stored."""
        written = {(w.type, w.id) for w in writes if w.resource is not None}
        deleted = {(w.type, w.id) for w in writes if w.resource is None}
        for e in entries:
            if e.method not in READS or e.type == METADATA:
                continue
            try:
                if e.id is None:
                    # run now, as it will run after the writes: a search that fails (too
                    # costly, or a failure of the server) fails the transaction unstored
                    query = self.service.parse_search(e.type, e.params, base=self.base)
                    await self.service.searchable(principal, query, run=True)
                elif (e.type, e.id) in deleted and e.version is None:
                    raise ResourceGone(f"{e.type}/{e.id} is deleted by this transaction")
                elif (e.type, e.id) not in written:
                    await self.service.readable(principal, e.type, e.id, e.version, base=self.base)
            except DalguError as error:
                raise _in_entry(error, e.index) from None

    async def _prepare(
        self, principal: Principal, e: Entry, assigned: dict[int, str], ids: dict[str, str]
    ) -> FhirWrite:
        s = self.service
        try:
            if e.method == "DELETE":
                assert e.id is not None
                return await s.prepare_delete(principal, e.type, e.id, e.if_match)
            root = entry_root(e.full_url, self.base)
            resource = BundleLinks(ids).rewrite(e.resource, root)
            if e.method == "POST":
                write = s.prepare(e.type, resource, assigned[e.index], create=True, base=self.base)
            else:
                assert e.id is not None
                if_match = await s.resolve_if_match(e.type, e.id, e.if_match)
                write = s.prepare(e.type, resource, e.id, if_match=if_match, base=self.base)
                await self._check_version(write)
                if e.if_none_match is not None:
                    write = await bind_none_match(s.store, write, e.if_none_match)
            return await s.authorize_write(principal, write)
        except DalguError as error:
            raise _in_entry(error, e.index) from None

    async def _check_version(self, write: FhirWrite) -> None:
        """`ifMatch` checked early so the error names its entry; the store checks it again
        inside the transaction."""
        if write.if_match is None:
            return
        current = await self.service.store.fhir_read(write.type, write.id)
        if current is not None and current.version != write.if_match:
            raise PreconditionFailed(
                f"{write.type}/{write.id} is at version {current.version}, not {write.if_match}"
            )


def _response(kind: str, entries: list[dict[str, Any]]) -> Resource:
    """A batch or transaction response; one to an empty Bundle has no `entry` (FHIR JSON
    has no empty arrays)."""
    bundle: Resource = {"resourceType": "Bundle", "type": kind}
    if entries:
        bundle["entry"] = entries
    return bundle


def _failure(error: DalguError) -> dict[str, Any]:
    return {
        "response": {
            "status": f"{error.status} {error.title}",
            "outcome": operation_outcome(error),
        }
    }
