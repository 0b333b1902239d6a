"""The @context the device gateway writes with (`device_context`, the IoT Agents'
`IOTA_JSON_LD_CONTEXT`).

An IoT Agent in NGSI-LD mode sends every entity it writes with one @context, so the names of
its config groups (`temperature`, `entity_type: Device`) mean what that context says. Dalgu's
gateway writes in process: it expands the groups' names with the terms of the configured
contexts, read once at start through the broker's resolver (a context hosted by Dalgu itself
is read from the store; another is fetched, with the resolver's timeout and size limit).
Without one, the core context.
"""

from __future__ import annotations

from dalgu.ldcontext import ContextResolver
from dalgu.ldcontext.termmap import TermMap
from dalgu.settings import Settings


async def device_terms(settings: Settings, resolver: ContextResolver) -> TermMap:
    """The terms device names are expanded with; the resolver's errors (InvalidLdContext,
    LdContextNotAvailable) when a configured context cannot be read."""
    urls = settings.device_context_urls
    if not urls:
        return resolver.core
    return await resolver.resolve(urls)
