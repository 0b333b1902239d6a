"""The @context resolver of a process, reading the contexts Dalgu hosts from the store."""

from __future__ import annotations

from urllib.parse import urlsplit

from dalgu.ldcontext.resolver import ContextResolver
from dalgu.settings import Settings
from dalgu.store.base import EntityStore

HOSTED_PREFIX = "/ngsi-ld/v1/jsonldContexts/"


def hosted_context_resolver(settings: Settings, store: EntityStore) -> ContextResolver:
    """A resolver that reads contexts registered through /jsonldContexts (URLs under this
    server's base URL) from `store`, and fetches any other URL."""

    async def local_context(url: str) -> bytes | None:
        try:
            path = urlsplit(url).path
        except ValueError:  # "http://[::1": not a URL of this server; the fetch says why
            return None
        if path.startswith(HOSTED_PREFIX) and url.startswith(settings.base_url):
            found = await store.get_context(path[len(HOSTED_PREFIX) :])
            return None if found is None else found[0]
        return None

    return ContextResolver(
        fetch_timeout=settings.context_fetch_timeout,
        max_bytes=settings.context_max_bytes,
        cache_size=settings.context_cache_size,
        local=local_context,
    )
