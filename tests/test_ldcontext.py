"""Dalgu's compiled term maps agree with a full JSON-LD processor (pyld) on names."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pyld import jsonld

from dalgu.ldcontext import ContextResolver, is_core_context
from tests.jsonld_oracle import offline_loader

USER = {
    "ex": "http://example.org/",
    "Car": "ex:Car",
    "speed": "https://schema.org/speed",
    "brand": {"@id": "ex:brandName"},
    "owner": {"@id": "ex:owner", "@type": "@id"},
}
NAMES = [
    "Car",
    "speed",
    "brand",
    "owner",
    "location",
    "ex:extra",
    "plainName",
    "http://other.org/x",
    "ngsi-ld:foo",
]


@pytest.mark.parametrize("name", NAMES)
def test_expansion_matches_pyld(name: str) -> None:
    context = [USER, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"]
    # attribute values are nodes (a Property with a value), as in NGSI-LD payloads
    doc = {"@context": context, "@id": "urn:x:1", name: {"type": "Property", "value": 1}}
    expanded = jsonld.expand(doc, {"documentLoader": offline_loader})[0]
    oracle = next(k for k in expanded if k != "@id")
    terms = asyncio.run(ContextResolver().resolve(context))
    assert terms.expand(name) == oracle
    compacted = jsonld.compact(expanded, {"@context": context}, {"documentLoader": offline_loader})
    oracle_term = next(k for k in compacted if k not in ("@context", "id", "@id"))
    assert terms.compact(oracle) == oracle_term


@pytest.mark.parametrize(
    "url",
    [
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld",
    ],
)
def test_every_core_context_url_is_embedded(url: str) -> None:
    assert is_core_context(url)
    terms = asyncio.run(ContextResolver().resolve(url))
    assert terms.expand("observedAt") == "https://uri.etsi.org/ngsi-ld/observedAt"


@pytest.mark.parametrize(
    ("context", "valid"),
    [
        # Smart Data Models' IssueTracking: a compact-IRI term mapped elsewhere
        ({"open311:type": "https://example.org/ns/open311:type"}, False),
        # its prefix defined, and the term mapped where the prefix puts it: valid
        ({"ex": "https://example.org/ns/", "ex:type": "https://example.org/ns/type"}, True),
        ({"ex": "https://example.org/ns/", "ex:type": "https://example.org/other/type"}, False),
        # an absolute IRI as a term maps to itself only
        ({"https://example.org/a": {"@id": "https://example.org/a", "@type": "@id"}}, True),
        ({"https://example.org/a": "https://example.org/b"}, False),
        ({"plain": "https://example.org/elsewhere"}, True),
    ],
)
def test_a_term_in_the_form_of_an_iri_must_map_to_it_as_pyld_says(
    context: dict[str, Any], valid: bool
) -> None:
    """JSON-LD 1.1 API, Create Term Definition 14.2.3 ("invalid IRI mapping"): pyld refuses
    such a context, and Dalgu accepted it (two attributes then came back under one name)."""

    def refuses(run: Any) -> bool:
        try:
            run()
        except Exception:
            return True
        return False

    oracle = refuses(lambda: jsonld.expand({"@context": context, "plain": 1}))
    assert oracle is not valid  # the cases say what pyld does

    async def build() -> None:
        await ContextResolver().resolve(context)

    assert refuses(lambda: asyncio.run(build())) is not valid
