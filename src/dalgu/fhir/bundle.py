"""Bundle `batch` and `transaction` (FHIR R4 3.1.0.11).

A batch runs each entry on its own, as if it were its own request, and answers each entry
with its outcome. A transaction is all or nothing: every write is validated and authorized
first, `urn:uuid:` fullUrls are given their server ids and references to them rewritten,
then all writes (and the transaction's AuditEvent) are stored in one database transaction;
reads (GET entries) run after the writes. Any failing entry fails the whole transaction.

A POST entry with `request.ifNoneExist` (conditional create) is searched first: no match, it
is created; one match, nothing is written for it, its response is `200 OK` with the resource
found, and references to its fullUrl are rewritten to that resource; more than one, the
transaction fails with 412. The search and the writes are not one atomic step: two
transactions racing with the same condition may both create.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dalgu.errors import BadRequestData, DalguError, PreconditionFailed
from dalgu.fhir.ids import new_id
from dalgu.fhir.model import Principal, Resource, StoredResource
from dalgu.fhir.render import body_of, operation_outcome, searchset, write_response
from dalgu.fhir.service import FhirService
from dalgu.store.base import FhirWrite

METHODS = ("GET", "POST", "PUT", "DELETE")


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
    if_match: int | None
    if_none_exist: str | None = None  # POST: conditional create (request.ifNoneExist)


def parse_etag(value: str | None) -> int | None:
    """The version in an ETag (`W/"3"`, `"3"`, `3`)."""
    if value is None:
        return None
    text = value.strip()
    text = text[2:] if text.startswith("W/") else text
    text = text.strip('"')
    if not text.isdigit():
        raise BadRequestData(f'{value!r} is not a version ETag such as W/"3"')
    return int(text)


def _entry(index: int, raw: Any, base: str) -> Entry:
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
        raise BadRequestData(f"entry {index}: each entry needs a request")
    request = raw["request"]
    method, url = request.get("method"), request.get("url")
    if method not in METHODS or not isinstance(url, str) or not url:
        raise BadRequestData(f"entry {index}: request.method is one of {METHODS} with a url")
    if url.startswith(base):
        url = url[len(base) :]
    parts = urlsplit(url.lstrip("/"))
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        raise BadRequestData(f"entry {index}: request.url {url!r} names no resource type")
    version = None
    if len(segments) == 4 and segments[2] == "_history" and segments[3].isdigit():
        version = int(segments[3])
    elif len(segments) > 2:
        raise BadRequestData(f"entry {index}: request.url {url!r} is not supported")
    full_url = raw.get("fullUrl")
    if_none_exist = request.get("ifNoneExist")
    if if_none_exist is not None and (method != "POST" or not isinstance(if_none_exist, str)):
        raise BadRequestData(f"entry {index}: request.ifNoneExist is a search, on a POST only")
    return Entry(
        index,
        method,
        segments[0],
        segments[1] if len(segments) > 1 else None,
        version,
        parse_qsl(parts.query, keep_blank_values=True),
        raw.get("resource"),
        full_url if isinstance(full_url, str) else None,
        parse_etag(request.get("ifMatch")),
        if_none_exist,
    )


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite(v, ids) for k, v in value.items()}
        reference = out.get("reference")
        if isinstance(reference, str) and reference in ids:
            out["reference"] = ids[reference]
        return out
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    return value


class BundleProcessor:
    def __init__(self, service: FhirService, base: str) -> None:
        self.service = service
        self.base = base

    async def process(self, principal: Principal, body: Any) -> Resource:
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            raise BadRequestData("POST to the base takes a Bundle")
        kind = body.get("type")
        if kind not in ("batch", "transaction"):
            raise BadRequestData("a Bundle posted to the base is of type batch or transaction")
        raw = body.get("entry") or []
        if not isinstance(raw, list):
            raise BadRequestData("Bundle.entry must be an array")
        if kind == "batch":
            entries = []
            for i, item in enumerate(raw):
                try:
                    entries.append(await self._one(principal, _entry(i, item, self.base)))
                except DalguError as error:
                    entries.append(_failure(error))
            return {"resourceType": "Bundle", "type": "batch-response", "entry": entries}
        return await self._transaction(
            principal, [_entry(i, e, self.base) for i, e in enumerate(raw)]
        )

    async def _one(self, principal: Principal, e: Entry) -> dict[str, Any]:
        s = self.service
        if e.method == "GET":
            return await self._read(principal, e)
        if e.method == "POST":
            if e.id is not None:
                raise BadRequestData(f"entry {e.index}: POST goes to a type, not an instance")
            stored = await s.create(principal, e.type, e.resource, if_none_exist=e.if_none_exist)
            return self._written(stored, 201 if stored.created else 200)
        if e.id is None:
            raise BadRequestData(f"entry {e.index}: {e.method} needs [type]/[id]")
        if e.method == "PUT":
            stored = await s.update(principal, e.type, e.id, e.resource, if_match=e.if_match)
            return self._written(stored, 201 if stored.created else 200)
        stored = await s.delete(principal, e.type, e.id, if_match=e.if_match)
        return {"response": write_response(stored, self.base, status=204)}

    async def _read(self, principal: Principal, e: Entry) -> dict[str, Any]:
        if e.id is None:
            query = self.service.parse_search(e.type, e.params)
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
            )
            return {"resource": found, "response": {"status": "200 OK"}}
        stored = await self.service.read(principal, e.type, e.id, e.version)
        return {
            "resource": body_of(stored),
            "response": {
                "status": "200 OK",
                "etag": stored.etag,
                "lastModified": stored.last_updated,
            },
        }

    def _written(self, stored: StoredResource, status: int) -> dict[str, Any]:
        return {
            "fullUrl": f"{self.base}/{stored.type}/{stored.id}",
            "resource": body_of(stored),
            "response": write_response(stored, self.base, status=status),
        }

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
            for e in entries:
                if e.method == "GET" or e.index in matched:
                    continue
                write = await self._prepare(principal, e, assigned, ids)
                writes.append((e, write))
            stored = (
                await s.commit(principal, "transaction", [w for _, w in writes]) if writes else []
            )
        except DalguError as error:
            await s.record_failure(principal, "transaction", error, [])
            raise
        by_index = {e.index: r for (e, _), r in zip(writes, stored, strict=True)} | matched
        out = []
        for e in entries:
            if e.method == "GET":
                out.append(await self._read(principal, e))
                continue
            result = by_index[e.index]
            if e.method == "DELETE":
                out.append({"response": write_response(result, self.base, status=204)})
            else:
                out.append(self._written(result, 201 if result.created else 200))
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": out}

    async def _existing(self, principal: Principal, e: Entry) -> StoredResource | None:
        """What a conditional create entry matches already, among what `principal` may see
        (the write itself is authorized with the others, if it happens)."""
        if e.if_none_exist is None:
            return None
        try:
            return await self.service.existing(principal, e.type, e.if_none_exist)
        except DalguError as error:
            error.detail = f"entry {e.index}: {error.detail}"
            raise

    async def _prepare(
        self, principal: Principal, e: Entry, assigned: dict[int, str], ids: dict[str, str]
    ) -> FhirWrite:
        s = self.service
        try:
            if e.method == "DELETE":
                assert e.id is not None
                return await s.prepare_delete(principal, e.type, e.id, e.if_match)
            resource = _rewrite(e.resource, ids) if ids else e.resource
            if e.method == "POST":
                write = s.prepare(e.type, resource, assigned[e.index], create=True)
            else:
                write = s.prepare(e.type, resource, e.id, if_match=e.if_match)
                await self._check_version(write)
            await s.authorize_write(principal, write)
            return write
        except DalguError as error:
            error.detail = f"entry {e.index}: {error.detail}"
            raise

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


def _failure(error: DalguError) -> dict[str, Any]:
    return {
        "response": {
            "status": f"{error.status} {error.title}",
            "outcome": operation_outcome(error),
        }
    }
