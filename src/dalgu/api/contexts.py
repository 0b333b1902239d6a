"""Handlers of /jsonldContexts (clause 5.13, 6.29–6.30): hosted, cached and implicit contexts.

Hosted (and ImplicitlyCreated) contexts live in the store under a local id; Cached ones are the
remote documents the resolver downloaded, identified by their original URL. The core context is
embedded: it can be described (as Cached) and "reloaded", never deleted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import negotiation as neg
from dalgu.api import params
from dalgu.api.edge import Runtime, runtime
from dalgu.api.respond import CONTEXTS_PATH, implicit_context_id, no_content, plain_json
from dalgu.errors import BadRequestData, InvalidRequest, OperationNotSupported, ResourceNotFound
from dalgu.ldcontext import CORE_CONTEXT_URL, core_context_bytes, is_core_context

KINDS = ("Hosted", "Cached", "ImplicitlyCreated")


@dataclass(frozen=True, slots=True)
class StoredContext:
    """One entry of the broker's @context storage (clause 5.13.3.5)."""

    url: str
    local_id: str
    kind: str
    created_at: str
    document: bytes | None  # served for Hosted and ImplicitlyCreated only

    def details(self) -> dict[str, object]:
        return {
            "URL": self.url,
            "localId": self.local_id,
            "kind": self.kind,
            "createdAt": self.created_at,
        }


async def create_context(request: Request) -> Response:
    rt = runtime(request)
    neg.body_media_type(request)
    body = await neg.read_json(request, rt.settings.max_json_depth)
    if not isinstance(body, dict) or "@context" not in body:
        raise InvalidRequest("a context document is a JSON object with an @context member")
    if not isinstance(body["@context"], (dict, list, str)):
        raise BadRequestData("@context must be an object, a URL or an array of them")
    await rt.resolver.resolve(body["@context"])  # reject what cannot be processed
    context_id = str(uuid.uuid4())
    # clause 5.13.2: anything outside the @context subtree is discarded
    await rt.store.put_context(context_id, orjson.dumps({"@context": body["@context"]}), "Hosted")
    return Response(status_code=201, headers={"Location": CONTEXTS_PATH + context_id})


async def implicit_context(rt: Runtime, context: Any) -> str:
    """The URL of an ImplicitlyCreated context holding `context` (stored once per content)."""
    context_id = implicit_context_id(context)
    if await rt.store.get_context(context_id) is None:
        await rt.store.put_context(
            context_id, orjson.dumps({"@context": context}), "ImplicitlyCreated"
        )
    return rt.settings.base_url + CONTEXTS_PATH + context_id


async def linked(request: Request, rc: neg.RequestContext) -> neg.RequestContext:
    """`rc` for an answer that links to its @context (JSON, clause 6.3.6): an inline @context
    hosted as an ImplicitlyCreated one, so that the `Link` resolves (a JSON-LD client follows
    it to read the answer); a URL or the core context as it is."""
    if rc.accept == neg.JSON_LD or rc.context is None or isinstance(rc.context, str):
        return rc
    return replace(rc, context=await implicit_context(runtime(request), rc.context))


async def _entries(request: Request) -> list[StoredContext]:
    rt = runtime(request)
    base = rt.settings.base_url + CONTEXTS_PATH
    entries = [
        StoredContext(base + context_id, context_id, kind, created, None)
        for context_id, kind, created in await rt.store.list_contexts()
    ]
    for url, cached in list(rt.resolver.documents.items()):
        if not url.startswith(rt.settings.base_url):
            entries.append(StoredContext(url, url, "Cached", _iso(cached.fetched_at), None))
    return entries


async def list_contexts(request: Request) -> Response:
    details = params.flag(request.query_params, "details")
    kind = request.query_params.get("kind")
    if kind is not None:
        matched = [k for k in KINDS if k.lower() == kind.lower()]
        if not matched:
            raise BadRequestData("kind must be Hosted, Cached or ImplicitlyCreated")
        kind = matched[0]
    entries = [e for e in await _entries(request) if kind is None or e.kind == kind]
    return plain_json([e.details() for e in entries] if details else [e.url for e in entries])


async def _find(request: Request) -> StoredContext:
    rt = runtime(request)
    key = unquote(request.path_params["context_id"])
    base = rt.settings.base_url + CONTEXTS_PATH
    if key.startswith(base):
        key = key[len(base) :]
    elif key.startswith(CONTEXTS_PATH):
        key = key[len(CONTEXTS_PATH) :]
    stored = await rt.store.get_context(key)
    if stored is not None:
        document, kind, created = stored
        return StoredContext(base + key, key, kind, created, document)
    cached = rt.resolver.documents.get(key)
    if cached is not None:
        return StoredContext(key, key, "Cached", _iso(cached.fetched_at), None)
    if key == "core" or is_core_context(key):
        return StoredContext(CORE_CONTEXT_URL, "core", "Cached", _STARTED, core_context_bytes())
    raise ResourceNotFound(f"no @context {key} is hosted or cached here")


async def get_context(request: Request) -> Response:
    """Serve @context (clause 5.13.4): the document, or with details=true its metadata."""
    entry = await _find(request)
    if params.flag(request.query_params, "details"):
        return plain_json(entry.details())
    if entry.kind == "Cached" and entry.local_id != "core":
        raise OperationNotSupported(
            f"{entry.url} is a cached @context: fetch it from its URL (or ask details=true)"
        )
    assert entry.document is not None
    return Response(entry.document, media_type="application/json")


async def delete_context(request: Request) -> Response:
    """Delete and Reload @context (clause 5.13.5)."""
    rt = runtime(request)
    reload = params.flag(request.query_params, "reload")
    raw = unquote(request.path_params["context_id"])
    if reload and not raw.startswith(("http://", "https://")) and raw != "core":
        raise BadRequestData("reload applies to cached @contexts, named by their original URL")
    entry = await _find(request)
    if entry.local_id == "core":
        if not reload:
            raise BadRequestData("the core @context cannot be deleted, only reloaded")
        return no_content()  # embedded: it is always the current version
    if reload:
        if entry.kind != "Cached":
            raise BadRequestData(f"reload applies to cached @contexts; this one is {entry.kind}")
        await rt.resolver.reload(entry.url)
        return no_content()
    if entry.kind == "Cached":
        rt.resolver.forget(entry.url)
    else:
        await rt.store.delete_context(entry.local_id)
        rt.resolver.forget(entry.url)
    return no_content()


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


_STARTED = _iso(datetime.now(UTC).timestamp())
