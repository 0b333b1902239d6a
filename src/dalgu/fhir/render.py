"""FHIR documents the server answers with: Bundles (searchset, history, batch/transaction
responses) and OperationOutcomes. Stored resources go out as the bytes that were stored
(`orjson.Fragment`), never parsed and serialized again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import orjson

from dalgu.errors import DalguError, TooCostly
from dalgu.fhir.ids import server_made
from dalgu.fhir.model import Resource, StoredResource, instant
from dalgu.fhir.subsetting import Subset

_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
}
STATUS_TEXT = {200: "200 OK", 201: "201 Created", 204: "204 No Content"}


def operation_outcome(error: DalguError | None, *, information: str | None = None) -> Resource:
    if error is None:
        issue = {"severity": "information", "code": "informational", "diagnostics": information}
        return {"resourceType": "OperationOutcome", "issue": [issue]}
    issues = error.extra.get("issues") or [error.detail]
    code = (
        "too-costly"
        if isinstance(error, TooCostly)
        else _ISSUE_CODES.get(error.status, "exception")
    )
    severity = "fatal" if error.status >= 500 else "error"
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": str(i)} for i in issues],
    }


def body_of(stored: StoredResource, subset: Subset | None = None) -> orjson.Fragment | Resource:
    """The stored bytes as they are, or the `subset` of them a client asked for."""
    if subset is not None and stored.body is not None:
        return subset.apply(stored.body)
    return orjson.Fragment(stored.body or b"{}")


def location(base: str, stored: StoredResource) -> str:
    return f"{base}/{stored.type}/{stored.id}/_history/{stored.version}"


def write_response(stored: StoredResource, base: str, *, status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "status": STATUS_TEXT.get(status, str(status)),
        "etag": stored.etag,
        "lastModified": stored.last_updated,
    }
    if not stored.deleted:
        response["location"] = location(base, stored)
    return response


def _link(base: str, type_name: str, params: list[tuple[str, str]], offset: int) -> str:
    kept = [(k, v) for k, v in params if k != "_offset"]
    if offset:
        kept.append(("_offset", str(offset)))
    query = urlencode(kept)
    return f"{base}/{type_name}" + (f"?{query}" if query else "")


def searchset(
    base: str,
    type_name: str,
    params: list[tuple[str, str]],
    matches: list[StoredResource],
    included: list[StoredResource],
    total: int | None,
    count: int,
    offset: int,
    notes: Sequence[str] = (),
    subset: Subset | None = None,
) -> dict[str, Any]:
    """A searchset Bundle: the matches, what they include (each as `subset` shows it),
    and an OperationOutcome entry (search mode `outcome`) for each of `notes` (what the
    server left out)."""
    links = [{"relation": "self", "url": _link(base, type_name, params, offset)}]
    more = len(matches) == count and count > 0 and (total is None or offset + count < total)
    if more:
        links.append({"relation": "next", "url": _link(base, type_name, params, offset + count)})
    if offset > 0:
        previous = max(0, offset - count)
        links.append({"relation": "previous", "url": _link(base, type_name, params, previous)})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(),
    }
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{base}/{r.type}/{r.id}",
            "resource": body_of(r, subset),
            "search": {"mode": mode},
        }
        for rows, mode in ((matches, "match"), (included, "include"))
        for r in rows
    ]
    for note in notes:
        issue = {"severity": "warning", "code": "incomplete", "diagnostics": note}
        outcome = {"resourceType": "OperationOutcome", "issue": [issue]}
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle


def _how_made(v: StoredResource) -> tuple[str, str, str]:
    """The request and response status that made a version (Bundle.entry.request: "for
    history, it shows how the entry was processed to create the version"): a deletion a
    DELETE; one that made the resource exist (`created`: the first, or one after a deletion)
    a `201` of a POST when the server gave the id, else of the PUT that named it; any
    other a PUT answered `200`."""
    instance = f"{v.type}/{v.id}"
    if v.deleted:
        return "DELETE", instance, "204 No Content"
    if not v.created:
        return "PUT", instance, "200 OK"
    if v.version == 1 and server_made(v.id):
        return "POST", v.type, "201 Created"
    return "PUT", instance, "201 Created"


def history(
    base: str,
    page_url: str,
    versions: list[StoredResource],
    total: int,
    count: int,
    offset: int,
) -> dict[str, Any]:
    """A history Bundle; `page_url` is the request's URL without `_offset`."""
    separator = "&" if "?" in page_url else "?"

    def at(start: int) -> str:
        return f"{page_url}{separator}_offset={start}" if start else page_url

    links = [{"relation": "self", "url": at(offset)}]
    if offset + count < total and count > 0:
        links.append({"relation": "next", "url": at(offset + count)})
    if offset > 0:
        links.append({"relation": "previous", "url": at(max(0, offset - count))})
    entries = []
    for v in versions:
        entry: dict[str, Any] = {"fullUrl": f"{base}/{v.type}/{v.id}"}
        if not v.deleted:
            entry["resource"] = body_of(v)
        method, url, status = _how_made(v)
        entry["request"] = {"method": method, "url": url}
        entry["response"] = {"status": status, "etag": v.etag, "lastModified": v.last_updated}
        entries.append(entry)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "history",
        "total": total,
        "link": links,
    }
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle
