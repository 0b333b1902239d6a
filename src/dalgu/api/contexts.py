"""Handlers of /jsonldContexts (clause 6.29–6.30): hosted, cached and implicit contexts."""

from __future__ import annotations

import uuid
from urllib.parse import unquote

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dalgu.api import negotiation as neg
from dalgu.api.edge import runtime
from dalgu.api.respond import CONTEXTS_PATH, no_content, plain_json
from dalgu.errors import BadRequestData, ResourceNotFound
from dalgu.ldcontext import core_context_bytes, is_core_context


async def create_context(request: Request) -> Response:
    rt = runtime(request)
    neg.body_media_type(request)
    body = await neg.read_json(request, rt.settings.max_body_bytes, rt.settings.max_json_depth)
    if not isinstance(body, dict) or not isinstance(body.get("@context"), (dict, list, str)):
        raise BadRequestData("a context document is a JSON object with an @context member")
    await rt.resolver.resolve(body["@context"])  # reject what cannot be processed
    context_id = str(uuid.uuid4())
    await rt.store.put_context(context_id, orjson.dumps(body), "Hosted")
    url = rt.settings.base_url + CONTEXTS_PATH + context_id
    return Response(status_code=201, headers={"Location": url})


async def list_contexts(request: Request) -> Response:
    rt = runtime(request)
    details_text = request.query_params.get("details", "false")
    kind = request.query_params.get("kind")
    if details_text not in ("true", "false"):
        raise BadRequestData("details must be true or false")
    if kind is not None and kind not in ("Hosted", "Cached", "ImplicitlyCreated"):
        raise BadRequestData("kind must be Hosted, Cached or ImplicitlyCreated")
    details = details_text == "true"
    entries: list[dict[str, object]] = []
    for context_id, stored_kind, created in await rt.store.list_contexts():
        entries.append(
            {
                "URL": rt.settings.base_url + CONTEXTS_PATH + context_id,
                "localId": context_id,
                "kind": stored_kind,
                "createdAt": created,
            }
        )
    for url, cached in rt.resolver.documents.items():
        if not url.startswith(rt.settings.base_url):
            entries.append(
                {
                    "URL": url,
                    "localId": url,
                    "kind": "Cached",
                    "numberOfHits": cached.hits,
                }
            )
    if kind is not None:
        entries = [e for e in entries if e["kind"] == kind]
    return plain_json(entries if details else [e["URL"] for e in entries])


async def _find(request: Request) -> tuple[str, bytes]:
    rt = runtime(request)
    key = unquote(request.path_params["context_id"])
    if key.startswith(rt.settings.base_url + CONTEXTS_PATH):
        key = key[len(rt.settings.base_url + CONTEXTS_PATH) :]
    stored = await rt.store.get_context(key)
    if stored is not None:
        return key, stored[0]
    if key in rt.resolver.documents:
        return key, orjson.dumps(rt.resolver.documents[key].document)
    if key == "core":
        return key, core_context_bytes()
    raise ResourceNotFound(f"no @context {key} is hosted or cached here")


async def get_context(request: Request) -> Response:
    _, document = await _find(request)
    return Response(document, media_type="application/ld+json")


async def delete_context(request: Request) -> Response:
    rt = runtime(request)
    reload = request.query_params.get("reload", "false")
    if reload not in ("true", "false"):
        raise BadRequestData("reload must be true or false")
    raw = unquote(request.path_params["context_id"])
    if is_core_context(raw) or raw == "core":
        raise BadRequestData("the core @context cannot be deleted")
    key, _ = await _find(request)
    stored = await rt.store.get_context(key)
    if reload == "true" and stored is not None:
        raise BadRequestData("reload applies to cached @contexts, not hosted ones")
    if not await rt.store.delete_context(key):
        rt.resolver.forget(key)
    rt.resolver.forget(rt.settings.base_url + CONTEXTS_PATH + key)
    return no_content()
