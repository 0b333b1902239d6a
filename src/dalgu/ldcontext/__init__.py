"""JSON-LD @context handling: embedded core context, cached term maps, remote resolution."""

from dalgu.ldcontext.core import (
    CORE_CONTEXT_URL,
    DEFAULT_VOCAB,
    NGSI_LD,
    core_context_bytes,
    core_context_document,
    is_core_context,
)
from dalgu.ldcontext.resolver import ContextResolver, core_terms
from dalgu.ldcontext.termmap import TermMap

__all__ = [
    "CORE_CONTEXT_URL",
    "DEFAULT_VOCAB",
    "NGSI_LD",
    "ContextResolver",
    "TermMap",
    "core_context_bytes",
    "core_context_document",
    "core_terms",
    "is_core_context",
]
