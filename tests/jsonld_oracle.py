"""pyld, the tests' JSON-LD oracle, kept offline: the core context from Dalgu's embedded copy,
any other remote context (the core's scoped W3C data-integrity context) an empty stand-in
(no name the tests compare uses one)."""

from __future__ import annotations

from typing import Any

from dalgu.ldcontext import core_context_document, is_core_context


def offline_loader(url: str, options: Any = None) -> dict[str, Any]:
    """A pyld document loader that never reaches the network."""
    document = core_context_document() if is_core_context(url) else {"@context": {}}
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": document,
    }
