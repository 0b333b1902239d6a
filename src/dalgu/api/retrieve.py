"""Retrieve Entity (clause 6.5.3.1) in its commonest form, answered before Starlette's routing.

`GET /ngsi-ld/v1/entities/{id}` with no query parameters, no `Link` header and a plain or
JSON-LD `Accept` is the broker's hottest request. Routing, middleware and the `Request` object
cost as much as the read and the rendering together (~15 µs of ~33 µs), so this ASGI wrapper
answers that form itself, with exactly the bytes and headers the full handler
(`dalgu.api.entities.retrieve_entity`) gives. Anything else, and any entity it does not find,
goes on to the full application, which answers it (or its error) as always.
"""

from __future__ import annotations

import re

from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from dalgu.api.negotiation import JSON, JSON_LD
from dalgu.api.respond import VARY, link_header
from dalgu.broker.model import is_uri
from dalgu.broker.rendered import DEFAULT_VIEW, with_context
from dalgu.ldcontext import CORE_CONTEXT_URL

PREFIX = "/ngsi-ld/v1/entities/"
_PLAIN_ACCEPT = frozenset({b"application/json", b"*/*", b"application/*"})
_JSON_LD_ACCEPT = JSON_LD.encode()
_TENANT = re.compile(r"[A-Za-z0-9_.:\-/]{1,256}")
_LINK = (b"link", link_header(CORE_CONTEXT_URL).encode("latin-1"))
_JSON_TYPE = (b"content-type", JSON.encode())
_JSON_LD_TYPE = (b"content-type", _JSON_LD_ACCEPT)
_VARY = (b"vary", VARY)


class EntityRetrieval:
    """ASGI wrapper: the plain Retrieve Entity above, everything else to `app`."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state  # the app's; its `dalgu` runtime appears once the lifespan starts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["query_string"]
            or scope.get("root_path")
            or not scope["path"].startswith(PREFIX)
            or not await self._answer(scope, send)
        ):
            await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> bool:
        """Send the entity and return True, or return False having sent nothing."""
        entity_id: str = scope["path"][len(PREFIX) :]
        if not is_uri(entity_id):
            return False
        tenant = ""
        tenant_seen = False
        accept: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"accept":
                if accept is not None:
                    return False
                accept = value
            elif name == b"ngsild-tenant":
                if tenant_seen:  # two tenants: the full handler refuses it
                    return False
                tenant_seen = True
                tenant = value.decode("latin-1")
                if tenant and not _TENANT.fullmatch(tenant):
                    return False
            elif name == b"link" or name == b"prefer":  # the full handler applies it
                return False
        json_ld = accept == _JSON_LD_ACCEPT
        if not json_ld and accept is not None and accept not in _PLAIN_ACCEPT:
            return False
        runtime = getattr(self.state, "dalgu", None)
        if runtime is None:
            return False
        distributor = runtime.distributor
        try:
            if (
                distributor is not None
                and not distributor.known_empty(tenant)
                and await distributor.registrations(tenant)
            ):
                return False  # context sources may hold part of it: the full handler asks them
            stored = await runtime.service.retrieve_rendered(tenant, entity_id)
        except Exception:  # the full application answers it (a store outage: 503)
            return False
        if stored is None:
            return False  # the full handler answers the 404 (or asks the lazy attributes)
        body = stored.rendered
        if body is None:  # a store that keeps no rendering (of this entity): made here
            assert stored.document is not None
            core = runtime.resolver.core
            (body,) = runtime.rendered.render([stored.document], core, DEFAULT_VIEW)
        if json_ld:  # the context in the body, as `respond.json_response` puts it
            body = with_context(body, CORE_CONTEXT_URL)
        length = (b"content-length", str(len(body)).encode())
        headers = [length, _JSON_LD_TYPE, _VARY] if json_ld else [_LINK, length, _JSON_TYPE, _VARY]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True
