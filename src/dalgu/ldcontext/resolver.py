"""Resolve the @context of a request to a cached `TermMap`.

Contexts arrive inline (an object), by URL (a `Link` header or a string in `@context`) or as a
list of both. The core context is embedded; contexts registered through `/jsonldContexts` come
from the store; other URLs are fetched once with a timeout and a size limit and then cached.
Core terms are protected: a user context cannot redefine them, so they are applied last.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from dalgu.errors import InvalidLdContext, LdContextNotAvailable
from dalgu.ldcontext.core import CORE_CONTEXT_URL, core_context_document, is_core_context
from dalgu.ldcontext.termmap import ContextBuilder, TermMap

ContextLoader = Callable[[str], Awaitable[bytes | None]]
"""Returns a locally known context document (e.g. registered via /jsonldContexts) or None."""

if TYPE_CHECKING:  # httpx (and the CLI it pulls in) loads only when a context is fetched
    import httpx

_MAX_DEPTH = 8


@dataclass(slots=True)
class CachedDocument:
    url: str
    document: Any
    fetched_at: float
    hits: int = 0
    last_used: float = field(default_factory=time.time)


@cache
def core_terms() -> TermMap:
    """The term map of the core context alone (one for the process: a rendering made with it
    at a write is the one a read with it makes)."""
    builder = ContextBuilder()
    builder.add(dict(core_context_document()["@context"]), core=True)
    return builder.build()


class ContextResolver:
    """Turns @context values into term maps, caching both documents and compiled maps."""

    def __init__(
        self,
        *,
        fetch_timeout: float = 5.0,
        max_bytes: int = 1_048_576,
        cache_size: int = 256,
        local: ContextLoader | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._timeout = fetch_timeout
        self._max_bytes = max_bytes
        self._cache_size = cache_size
        self._local = local
        self._client = client
        self._maps: OrderedDict[bytes, TermMap] = OrderedDict()
        self.documents: OrderedDict[str, CachedDocument] = OrderedDict()
        self._core_terms: dict[str, Any] = dict(core_context_document()["@context"])
        self.core = core_terms()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def resolve(self, context: Any) -> TermMap:
        """The term map for `context` (None → core context only)."""
        if context is None or (isinstance(context, str) and is_core_context(context)):
            return self.core
        key = context.encode() if isinstance(context, str) else orjson.dumps(context)
        hit = self._maps.get(key)
        if hit is not None:
            self._maps.move_to_end(key)
            return hit
        builder = ContextBuilder()
        await self._collect(context, builder, 0)
        builder.add(self._core_terms, core=True)  # core terms are protected: applied last
        term_map = builder.build()
        self._maps[key] = term_map
        if len(self._maps) > self._cache_size:
            self._maps.popitem(last=False)
        return term_map

    async def reload(self, url: str) -> None:
        """Download a cached document again and replace it; on failure keep the old one."""
        raw = await self._fetch(url)
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise LdContextNotAvailable(f"{url} no longer serves valid JSON: {exc}") from None
        if not isinstance(document, dict) or "@context" not in document:
            raise LdContextNotAvailable(f"{url} no longer serves a JSON-LD context document")
        self.documents[url] = CachedDocument(url, document, time.time())
        self._maps.clear()

    def forget(self, url: str) -> None:
        """Drop a document (and every compiled map) from the caches."""
        self.documents.pop(url, None)
        self._maps.clear()

    async def _collect(self, context: Any, builder: ContextBuilder, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise InvalidLdContext("@context nests remote contexts too deeply")
        if context is None:
            return
        if isinstance(context, list):
            for item in context:
                if item is None:
                    builder.reset()
                else:
                    await self._collect(item, builder, depth)
        elif isinstance(context, str):
            if is_core_context(context):
                return
            document = await self.document(context)
            inner = document.get("@context") if isinstance(document, dict) else None
            if inner is None:
                raise InvalidLdContext(f"{context} is not a JSON-LD context document")
            await self._collect(inner, builder, depth + 1)
        elif isinstance(context, dict):
            builder.add(await self._imported(context) if "@import" in context else context)
        else:
            raise InvalidLdContext("@context must be a URL, an object or an array of them")

    async def _imported(self, context: dict[str, Any]) -> dict[str, Any]:
        """A context object with `@import` (JSON-LD 1.1, 4.1.10): the definitions of the
        context document it names, under the object's own, which win."""
        url = context["@import"]
        if not isinstance(url, str):
            raise InvalidLdContext("@import must name a context document by its URL")
        document = await self.document(url)
        imported = document.get("@context") if isinstance(document, dict) else None
        if not isinstance(imported, dict):
            raise InvalidLdContext(f"@import {url}: not a context document holding one object")
        if "@import" in imported:
            raise InvalidLdContext(f"@import {url}: an imported context may not import another")
        own = {key: value for key, value in context.items() if key != "@import"}
        return {**imported, **own}

    async def document(self, url: str) -> Any:
        """The JSON document at `url`, from the cache, the local registry or the network."""
        if is_core_context(url):
            return core_context_document()
        cached = self.documents.get(url)
        if cached is not None:
            cached.hits += 1
            cached.last_used = time.time()
            return cached.document
        raw = await self._local(url) if self._local is not None else None
        if raw is None:
            raw = await self._fetch(url)
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidLdContext(f"{url} is not valid JSON: {exc}") from None
        self.documents[url] = CachedDocument(url, document, time.time())
        while len(self.documents) > self._cache_size:
            self.documents.popitem(last=False)
        return document

    async def _fetch(self, url: str) -> bytes:
        if not url.startswith(("http://", "https://")):
            raise InvalidLdContext(f"@context URL {url!r} is not an http(s) URL")
        try:
            port = urlsplit(url).port  # past 65535 the transport raised an ExceptionGroup
        except ValueError as exc:
            raise InvalidLdContext(f"@context URL {url!r} is not a valid URL: {exc}") from None
        if port == 0:
            raise InvalidLdContext(f"@context URL {url!r} names port 0")
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=True)
        try:
            # the timeout bounds the whole fetch, not each read: a server sending a byte every
            # second held the request (and its client) for as long as it liked
            async with (
                asyncio.timeout(self._timeout),
                self._client.stream(
                    "GET",
                    url,
                    timeout=self._timeout,
                    headers={"Accept": "application/ld+json, application/json;q=0.9"},
                ) as response,
            ):
                if response.status_code != 200:
                    raise LdContextNotAvailable(
                        f"@context {url} answered HTTP {response.status_code}"
                    )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise LdContextNotAvailable(
                            f"@context {url} is larger than {self._max_bytes} bytes"
                        )
                return bytes(body)
        except httpx.InvalidURL as exc:
            raise InvalidLdContext(f"@context URL {url!r} is not a valid URL: {exc}") from None
        except httpx.HTTPError as exc:
            raise LdContextNotAvailable(f"@context {url} could not be retrieved: {exc}") from None
        except TimeoutError:
            raise LdContextNotAvailable(
                f"@context {url} was not retrieved within {self._timeout:g} s"
            ) from None


__all__ = ["CORE_CONTEXT_URL", "ContextResolver"]
